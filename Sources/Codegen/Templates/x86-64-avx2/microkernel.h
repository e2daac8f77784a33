/*
 * microkernel.h (x86-64 AVX2) — 6×16 fp32 GEMM micro-kernel.
 * Registers: 12 ymm accumulators (6 rows × 2 vectors of 8), 2 ymm for the B row, 1 for the
 * A broadcast — 15 of 16 ymm.
 * Contract: see x86-64-avx512/microkernel.h (identical in every profile).
 */
#ifndef KILN_MICROKERNEL_H
#define KILN_MICROKERNEL_H
#include "vector.h"
#include "../common/epilogue.h"

#define KILN_MR 6
#define KILN_NR 16

KILN_INLINE void kiln_microkernel(int kc, const float *restrict a_panel, const float *restrict b_panel, float *c,
                                  ptrdiff_t ldc, int m, int n, int accumulate, int last, kiln_epilogue ep, int row,
                                  int col) {
  __m256 acc[KILN_MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < KILN_MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b_panel + (ptrdiff_t)k * KILN_NR);
    __m256 b1 = _mm256_load_ps(b_panel + (ptrdiff_t)k * KILN_NR + 8);
    const float *a = a_panel + (ptrdiff_t)k * KILN_MR;
#pragma GCC unroll 6
    for (int i = 0; i < KILN_MR; i++) {
      __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  int n0 = KILN_MIN(n, 8), n1 = n - 8;
#pragma GCC unroll 6
  for (int i = 0; i < KILN_MR; i++) {
    if (i >= m) break;
    float *ci = c + (ptrdiff_t)i * ldc;
    kiln_tile_store(ci, acc[i][0], n0, accumulate, last, ep, row + i, col);
    if (n1 > 0) kiln_tile_store(ci + 8, acc[i][1], n1, accumulate, last, ep, row + i, col + 8);
  }
}

#endif
