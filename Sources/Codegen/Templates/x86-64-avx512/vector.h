/* vector.h (x86-64 AVX-512) — 16 fp32 lanes in a zmm register; tails use AVX-512 masks.
 * Flags: -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma. The primitives (kv_*) are the
 * same in every profile; their list is in common/kiln_abi.h. */
#ifndef KILN_VECTOR_H
#define KILN_VECTOR_H
#include <immintrin.h>
#include "../common/kiln_abi.h"

#define KILN_VLEN 16
/* vector registers of kiln_vf size (32 zmm); templates size register tiles by it */
#define KILN_VREGS 32
typedef __m512 kiln_vf;

KILN_INLINE __mmask16 kv_tail_mask(int n) { return (__mmask16)((1u << n) - 1u); }
KILN_INLINE kiln_vf kv_zero(void) { return _mm512_setzero_ps(); }
KILN_INLINE kiln_vf kv_set1(float x) { return _mm512_set1_ps(x); }
KILN_INLINE kiln_vf kv_load(const float *p) { return _mm512_load_ps(p); }
KILN_INLINE kiln_vf kv_loadu(const float *p) { return _mm512_loadu_ps(p); }
KILN_INLINE void kv_store(float *p, kiln_vf v) { _mm512_store_ps(p, v); }
KILN_INLINE void kv_storeu(float *p, kiln_vf v) { _mm512_storeu_ps(p, v); }
/* 0 < n <= KILN_VLEN; lanes >= n read as 0 and are never touched in memory. */
KILN_INLINE kiln_vf kv_load_tail(const float *p, int n) { return _mm512_maskz_loadu_ps(kv_tail_mask(n), p); }
KILN_INLINE void kv_store_tail(float *p, kiln_vf v, int n) { _mm512_mask_storeu_ps(p, kv_tail_mask(n), v); }
KILN_INLINE kiln_vf kv_add(kiln_vf a, kiln_vf b) { return _mm512_add_ps(a, b); }
KILN_INLINE kiln_vf kv_sub(kiln_vf a, kiln_vf b) { return _mm512_sub_ps(a, b); }
KILN_INLINE kiln_vf kv_mul(kiln_vf a, kiln_vf b) { return _mm512_mul_ps(a, b); }
KILN_INLINE kiln_vf kv_div(kiln_vf a, kiln_vf b) { return _mm512_div_ps(a, b); }
/* correctly rounded, like sqrtf */
KILN_INLINE kiln_vf kv_sqrt(kiln_vf a) { return _mm512_sqrt_ps(a); }
/* a·b + c, one rounding */
KILN_INLINE kiln_vf kv_fma(kiln_vf a, kiln_vf b, kiln_vf c) { return _mm512_fmadd_ps(a, b, c); }
KILN_INLINE kiln_vf kv_max(kiln_vf a, kiln_vf b) { return _mm512_max_ps(a, b); }
KILN_INLINE kiln_vf kv_min(kiln_vf a, kiln_vf b) { return _mm512_min_ps(a, b); }
KILN_INLINE kiln_vf kv_abs(kiln_vf a) { return _mm512_abs_ps(a); }
KILN_INLINE float kv_hsum(kiln_vf a) { return _mm512_reduce_add_ps(a); }
KILN_INLINE float kv_hmax(kiln_vf a) { return _mm512_reduce_max_ps(a); }
/* to the nearest integer, ties to even, as a float */
KILN_INLINE kiln_vf kv_round(kiln_vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* 2^n for integral n in [-126, 127] */
KILN_INLINE kiln_vf kv_pow2i(kiln_vf n) {
  __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
  return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
/* a < b ? x : y, lane by lane */
KILN_INLINE kiln_vf kv_select_lt(kiln_vf a, kiln_vf b, kiln_vf x, kiln_vf y) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x);
}
/* |mag| with the sign of sgn */
KILN_INLINE kiln_vf kv_copysign(kiln_vf mag, kiln_vf sgn) {
  __m512i sign = _mm512_and_si512(_mm512_castps_si512(sgn), _mm512_set1_epi32((int)0x80000000u));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(_mm512_abs_ps(mag)), sign));
}

#include "../common/vector_math.h"
#endif
