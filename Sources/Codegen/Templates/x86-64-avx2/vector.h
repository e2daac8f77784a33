/* vector.h (x86-64 AVX2 + FMA) — 8 fp32 lanes in a ymm register; tails use vmaskmov.
 * Flags: -mavx2 -mfma. Same primitive names (kv_*) as every profile. */
#ifndef KILN_VECTOR_H
#define KILN_VECTOR_H
#include <immintrin.h>
#include "../common/kiln_abi.h"

#define KILN_VLEN 8
/* vector registers of kiln_vf size (16 ymm); templates size register tiles by it */
#define KILN_VREGS 16
typedef __m256 kiln_vf;

KILN_INLINE __m256i kv_tail_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
KILN_INLINE kiln_vf kv_zero(void) { return _mm256_setzero_ps(); }
KILN_INLINE kiln_vf kv_set1(float x) { return _mm256_set1_ps(x); }
KILN_INLINE kiln_vf kv_load(const float *p) { return _mm256_load_ps(p); }
KILN_INLINE kiln_vf kv_loadu(const float *p) { return _mm256_loadu_ps(p); }
KILN_INLINE void kv_store(float *p, kiln_vf v) { _mm256_store_ps(p, v); }
KILN_INLINE void kv_storeu(float *p, kiln_vf v) { _mm256_storeu_ps(p, v); }
/* 0 < n <= KILN_VLEN; lanes >= n read as 0 and are never touched in memory. */
KILN_INLINE kiln_vf kv_load_tail(const float *p, int n) { return _mm256_maskload_ps(p, kv_tail_mask(n)); }
KILN_INLINE void kv_store_tail(float *p, kiln_vf v, int n) { _mm256_maskstore_ps(p, kv_tail_mask(n), v); }
KILN_INLINE kiln_vf kv_add(kiln_vf a, kiln_vf b) { return _mm256_add_ps(a, b); }
KILN_INLINE kiln_vf kv_sub(kiln_vf a, kiln_vf b) { return _mm256_sub_ps(a, b); }
KILN_INLINE kiln_vf kv_mul(kiln_vf a, kiln_vf b) { return _mm256_mul_ps(a, b); }
KILN_INLINE kiln_vf kv_div(kiln_vf a, kiln_vf b) { return _mm256_div_ps(a, b); }
/* correctly rounded, like sqrtf */
KILN_INLINE kiln_vf kv_sqrt(kiln_vf a) { return _mm256_sqrt_ps(a); }
KILN_INLINE kiln_vf kv_fma(kiln_vf a, kiln_vf b, kiln_vf c) { return _mm256_fmadd_ps(a, b, c); }
KILN_INLINE kiln_vf kv_max(kiln_vf a, kiln_vf b) { return _mm256_max_ps(a, b); }
KILN_INLINE kiln_vf kv_min(kiln_vf a, kiln_vf b) { return _mm256_min_ps(a, b); }
KILN_INLINE kiln_vf kv_abs(kiln_vf a) {
  return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}
KILN_INLINE float kv_hsum(kiln_vf a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
KILN_INLINE float kv_hmax(kiln_vf a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
KILN_INLINE kiln_vf kv_round(kiln_vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
KILN_INLINE kiln_vf kv_pow2i(kiln_vf n) {
  __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
  return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
KILN_INLINE kiln_vf kv_select_lt(kiln_vf a, kiln_vf b, kiln_vf x, kiln_vf y) {
  return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
}
KILN_INLINE kiln_vf kv_copysign(kiln_vf mag, kiln_vf sgn) {
  __m256 sign = _mm256_and_ps(sgn, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u)));
  return _mm256_or_ps(kv_abs(mag), sign);
}

#include "../common/vector_math.h"
#endif
