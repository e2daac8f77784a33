/*
 * microkernel.h (generic) — 4×8 fp32 GEMM micro-kernel in plain C: the accumulator tile is
 * a local array the compiler keeps in vector registers after unrolling the constant loops.
 * 4×8 fits the 16 registers of baseline SSE2 (8 accumulators); larger tiles (6×16, 6×8, 8×8)
 * spilled with gcc 12 -O3 and ran 3-10× slower on the micro-kernel benchmark.
 * Contract: see x86-64-avx512/microkernel.h (identical in every profile).
 */
#ifndef KILN_MICROKERNEL_H
#define KILN_MICROKERNEL_H
#include "vector.h"
#include "../common/epilogue.h"

#define KILN_MR 4
#define KILN_NR 8

KILN_INLINE void kiln_microkernel(int kc, const float *restrict a_panel, const float *restrict b_panel, float *c,
                                  ptrdiff_t ldc, int m, int n, int accumulate, int last, kiln_epilogue ep, int row,
                                  int col) {
  float acc[KILN_MR][KILN_NR];
  for (int i = 0; i < KILN_MR; i++)
    for (int j = 0; j < KILN_NR; j++) acc[i][j] = 0.0f;
  for (int k = 0; k < kc; k++) {
    const float *a = a_panel + (ptrdiff_t)k * KILN_MR;
    const float *b = b_panel + (ptrdiff_t)k * KILN_NR;
    for (int i = 0; i < KILN_MR; i++)
      for (int j = 0; j < KILN_NR; j++) acc[i][j] += a[i] * b[j];
  }
  for (int i = 0; i < KILN_MR; i++) {
    if (i >= m) break;
    float *ci = c + (ptrdiff_t)i * ldc;
    for (int j = 0; j < KILN_NR; j += KILN_VLEN) {
      int count = KILN_MIN(n - j, KILN_VLEN);
      if (count <= 0) break;
      kiln_tile_store(ci + j, kv_loadu(&acc[i][j]), count, accumulate, last, ep, row + i, col + j);
    }
  }
}

#endif
