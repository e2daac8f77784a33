/* vector.h (generic) — a "vector" is a struct of 8 floats handled by plain C loops, which an
 * optimizing compiler turns into whatever SIMD the target has. Flags: -O3. Same primitive
 * names (kv_*) as every profile. */
#ifndef KILN_VECTOR_H
#define KILN_VECTOR_H
#include "../common/kiln_abi.h"

#define KILN_VLEN 8
/* vector registers of kiln_vf size (assume 8: a struct of 8 floats takes two of baseline SSE2's 16 xmm); templates size register tiles by it */
#define KILN_VREGS 8
typedef struct { float v[KILN_VLEN]; } kiln_vf;

#define KILN_LANES(out, expr) \
  kiln_vf out; \
  for (int lane = 0; lane < KILN_VLEN; lane++) out.v[lane] = (expr);

KILN_INLINE kiln_vf kv_set1(float x) { KILN_LANES(r, x) return r; }
KILN_INLINE kiln_vf kv_zero(void) { return kv_set1(0.0f); }
KILN_INLINE kiln_vf kv_loadu(const float *p) { KILN_LANES(r, p[lane]) return r; }
KILN_INLINE kiln_vf kv_load(const float *p) { return kv_loadu(p); }
KILN_INLINE void kv_storeu(float *p, kiln_vf v) { for (int i = 0; i < KILN_VLEN; i++) p[i] = v.v[i]; }
KILN_INLINE void kv_store(float *p, kiln_vf v) { kv_storeu(p, v); }
KILN_INLINE kiln_vf kv_load_tail(const float *p, int n) { KILN_LANES(r, lane < n ? p[lane] : 0.0f) return r; }
KILN_INLINE void kv_store_tail(float *p, kiln_vf v, int n) { for (int i = 0; i < n; i++) p[i] = v.v[i]; }
KILN_INLINE kiln_vf kv_add(kiln_vf a, kiln_vf b) { KILN_LANES(r, a.v[lane] + b.v[lane]) return r; }
KILN_INLINE kiln_vf kv_sub(kiln_vf a, kiln_vf b) { KILN_LANES(r, a.v[lane] - b.v[lane]) return r; }
KILN_INLINE kiln_vf kv_mul(kiln_vf a, kiln_vf b) { KILN_LANES(r, a.v[lane] * b.v[lane]) return r; }
KILN_INLINE kiln_vf kv_div(kiln_vf a, kiln_vf b) { KILN_LANES(r, a.v[lane] / b.v[lane]) return r; }
/* correctly rounded, like sqrtf */
KILN_INLINE kiln_vf kv_sqrt(kiln_vf a) { KILN_LANES(r, __builtin_sqrtf(a.v[lane])) return r; }
KILN_INLINE kiln_vf kv_fma(kiln_vf a, kiln_vf b, kiln_vf c) { KILN_LANES(r, a.v[lane] * b.v[lane] + c.v[lane]) return r; }
KILN_INLINE kiln_vf kv_max(kiln_vf a, kiln_vf b) { KILN_LANES(r, a.v[lane] > b.v[lane] ? a.v[lane] : b.v[lane]) return r; }
KILN_INLINE kiln_vf kv_min(kiln_vf a, kiln_vf b) { KILN_LANES(r, a.v[lane] < b.v[lane] ? a.v[lane] : b.v[lane]) return r; }
KILN_INLINE kiln_vf kv_abs(kiln_vf a) { KILN_LANES(r, a.v[lane] < 0.0f ? -a.v[lane] : a.v[lane]) return r; }
KILN_INLINE float kv_hsum(kiln_vf a) {
  float s = 0.0f;
  for (int i = 0; i < KILN_VLEN; i++) s += a.v[i];
  return s;
}
KILN_INLINE float kv_hmax(kiln_vf a) {
  float m = a.v[0];
  for (int i = 1; i < KILN_VLEN; i++) m = a.v[i] > m ? a.v[i] : m;
  return m;
}
/* Adding and subtracting 1.5·2^23 rounds |x| < 2^22 to the nearest integer (ties to even). */
KILN_INLINE kiln_vf kv_round(kiln_vf a) { KILN_LANES(r, (a.v[lane] + 12582912.0f) - 12582912.0f) return r; }
KILN_INLINE kiln_vf kv_pow2i(kiln_vf n) {
  kiln_vf r;
  for (int lane = 0; lane < KILN_VLEN; lane++) {
    uint32_t bits = (uint32_t)((int32_t)n.v[lane] + 127) << 23;
    __builtin_memcpy(&r.v[lane], &bits, sizeof bits);
  }
  return r;
}
KILN_INLINE kiln_vf kv_select_lt(kiln_vf a, kiln_vf b, kiln_vf x, kiln_vf y) {
  KILN_LANES(r, a.v[lane] < b.v[lane] ? x.v[lane] : y.v[lane]) return r;
}
KILN_INLINE kiln_vf kv_copysign(kiln_vf mag, kiln_vf sgn) {
  kiln_vf r;
  for (int lane = 0; lane < KILN_VLEN; lane++) {
    uint32_t m, s;
    __builtin_memcpy(&m, &mag.v[lane], 4);
    __builtin_memcpy(&s, &sgn.v[lane], 4);
    m = (m & 0x7fffffffu) | (s & 0x80000000u);
    __builtin_memcpy(&r.v[lane], &m, 4);
  }
  return r;
}

#include "../common/vector_math.h"
#endif
