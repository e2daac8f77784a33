/* vector.h (AArch64 NEON) — 4 fp32 lanes in a q register; tails go through a stack copy.
 * Flags: none beyond the AArch64 baseline. Same primitive names (kv_*) as every profile. */
#ifndef KILN_VECTOR_H
#define KILN_VECTOR_H
#include <arm_neon.h>
#include "../common/kiln_abi.h"

#define KILN_VLEN 4
/* vector registers of kiln_vf size (32 q registers); templates size register tiles by it */
#define KILN_VREGS 32
typedef float32x4_t kiln_vf;

KILN_INLINE kiln_vf kv_zero(void) { return vdupq_n_f32(0.0f); }
KILN_INLINE kiln_vf kv_set1(float x) { return vdupq_n_f32(x); }
KILN_INLINE kiln_vf kv_load(const float *p) { return vld1q_f32(p); }
KILN_INLINE kiln_vf kv_loadu(const float *p) { return vld1q_f32(p); }
KILN_INLINE void kv_store(float *p, kiln_vf v) { vst1q_f32(p, v); }
KILN_INLINE void kv_storeu(float *p, kiln_vf v) { vst1q_f32(p, v); }
KILN_INLINE kiln_vf kv_load_tail(const float *p, int n) {
  float tmp[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; i++) tmp[i] = p[i];
  return vld1q_f32(tmp);
}
KILN_INLINE void kv_store_tail(float *p, kiln_vf v, int n) {
  float tmp[4];
  vst1q_f32(tmp, v);
  for (int i = 0; i < n; i++) p[i] = tmp[i];
}
KILN_INLINE kiln_vf kv_add(kiln_vf a, kiln_vf b) { return vaddq_f32(a, b); }
KILN_INLINE kiln_vf kv_sub(kiln_vf a, kiln_vf b) { return vsubq_f32(a, b); }
KILN_INLINE kiln_vf kv_mul(kiln_vf a, kiln_vf b) { return vmulq_f32(a, b); }
KILN_INLINE kiln_vf kv_div(kiln_vf a, kiln_vf b) { return vdivq_f32(a, b); }
/* correctly rounded, like sqrtf */
KILN_INLINE kiln_vf kv_sqrt(kiln_vf a) { return vsqrtq_f32(a); }
KILN_INLINE kiln_vf kv_fma(kiln_vf a, kiln_vf b, kiln_vf c) { return vfmaq_f32(c, a, b); }
KILN_INLINE kiln_vf kv_max(kiln_vf a, kiln_vf b) { return vmaxq_f32(a, b); }
KILN_INLINE kiln_vf kv_min(kiln_vf a, kiln_vf b) { return vminq_f32(a, b); }
KILN_INLINE kiln_vf kv_abs(kiln_vf a) { return vabsq_f32(a); }
KILN_INLINE float kv_hsum(kiln_vf a) { return vaddvq_f32(a); }
KILN_INLINE float kv_hmax(kiln_vf a) { return vmaxvq_f32(a); }
KILN_INLINE kiln_vf kv_round(kiln_vf a) { return vrndnq_f32(a); }
KILN_INLINE kiln_vf kv_pow2i(kiln_vf n) {
  int32x4_t e = vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127));
  return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
}
KILN_INLINE kiln_vf kv_select_lt(kiln_vf a, kiln_vf b, kiln_vf x, kiln_vf y) { return vbslq_f32(vcltq_f32(a, b), x, y); }
KILN_INLINE kiln_vf kv_copysign(kiln_vf mag, kiln_vf sgn) {
  return vbslq_f32(vdupq_n_u32(0x80000000u), sgn, vabsq_f32(mag));
}

#include "../common/vector_math.h"
#endif
