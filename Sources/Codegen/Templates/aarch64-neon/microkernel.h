/*
 * microkernel.h (AArch64 NEON) — 8×12 fp32 GEMM micro-kernel.
 * Registers: 24 q accumulators (8 rows × 3 vectors of 4), 3 q for the B row, 2 q holding the
 * 8 A values of this k, used lane by lane with vfmaq_laneq_f32 — 29 of 32 q registers.
 * Contract: see x86-64-avx512/microkernel.h (identical in every profile).
 */
#ifndef KILN_MICROKERNEL_H
#define KILN_MICROKERNEL_H
#include "vector.h"
#include "../common/epilogue.h"

#define KILN_MR 8
#define KILN_NR 12

#define KILN_NEON_ROW(i, av, lane) \
  acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, av, lane); \
  acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, av, lane); \
  acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, av, lane);

KILN_INLINE void kiln_microkernel(int kc, const float *restrict a_panel, const float *restrict b_panel, float *c,
                                  ptrdiff_t ldc, int m, int n, int accumulate, int last, kiln_epilogue ep, int row,
                                  int col) {
  float32x4_t acc[KILN_MR][3];
  for (int i = 0; i < KILN_MR; i++) acc[i][0] = acc[i][1] = acc[i][2] = vdupq_n_f32(0.0f);
  for (int k = 0; k < kc; k++) {
    const float *b = b_panel + (ptrdiff_t)k * KILN_NR;
    float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
    float32x4_t a03 = vld1q_f32(a_panel + (ptrdiff_t)k * KILN_MR);
    float32x4_t a47 = vld1q_f32(a_panel + (ptrdiff_t)k * KILN_MR + 4);
    KILN_NEON_ROW(0, a03, 0) KILN_NEON_ROW(1, a03, 1) KILN_NEON_ROW(2, a03, 2) KILN_NEON_ROW(3, a03, 3)
    KILN_NEON_ROW(4, a47, 0) KILN_NEON_ROW(5, a47, 1) KILN_NEON_ROW(6, a47, 2) KILN_NEON_ROW(7, a47, 3)
  }
  for (int i = 0; i < KILN_MR; i++) {
    if (i >= m) break;
    float *ci = c + (ptrdiff_t)i * ldc;
    for (int v = 0; v < 3; v++) {
      int count = KILN_MIN(n - 4 * v, 4);
      if (count <= 0) break;
      kiln_tile_store(ci + 4 * v, acc[i][v], count, accumulate, last, ep, row + i, col + 4 * v);
    }
  }
}

#undef KILN_NEON_ROW
#endif
