/*
 * microkernel.h (x86-64 AVX-512) — 14×32 fp32 GEMM micro-kernel.
 * Registers: 28 zmm accumulators (14 rows × 2 vectors of 16), 2 zmm for the B row, A
 * broadcast folded into the FMA's memory operand ({1to16}) — 30 of 32 zmm. Per k: 2 vector
 * loads + 14 broadcasts feed 28 FMAs, enough independent chains to keep 2 FMA pipes busy.
 *
 * Contract (same in every profile):
 *   a_panel: kc × KILN_MR floats, k-major (a_panel[k*MR + i]), zero-padded past the valid rows
 *   b_panel: kc × KILN_NR floats, k-major (b_panel[k*NR + j]), zero-padded past the valid cols
 *   c:       C[row][col], leading dimension ldc; only the m × n valid part is read/written
 *   accumulate / last: see kiln_tile_store in common/epilogue.h
 */
#ifndef KILN_MICROKERNEL_H
#define KILN_MICROKERNEL_H
#include "vector.h"
#include "../common/epilogue.h"

#define KILN_MR 14
#define KILN_NR 32

KILN_INLINE void kiln_microkernel(int kc, const float *restrict a_panel, const float *restrict b_panel, float *c,
                                  ptrdiff_t ldc, int m, int n, int accumulate, int last, kiln_epilogue ep, int row,
                                  int col) {
  __m512 acc[KILN_MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < KILN_MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++) {
    __m512 b0 = _mm512_load_ps(b_panel + (ptrdiff_t)k * KILN_NR);
    __m512 b1 = _mm512_load_ps(b_panel + (ptrdiff_t)k * KILN_NR + 16);
    const float *a = a_panel + (ptrdiff_t)k * KILN_MR;
#pragma GCC unroll 14
    for (int i = 0; i < KILN_MR; i++) {
      __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  int n0 = KILN_MIN(n, 16), n1 = n - 16;
#pragma GCC unroll 14
  for (int i = 0; i < KILN_MR; i++) {
    if (i >= m) break;
    float *ci = c + (ptrdiff_t)i * ldc;
    kiln_tile_store(ci, acc[i][0], n0, accumulate, last, ep, row + i, col);
    if (n1 > 0) kiln_tile_store(ci + 16, acc[i][1], n1, accumulate, last, ep, row + i, col + 16);
  }
}

#endif
