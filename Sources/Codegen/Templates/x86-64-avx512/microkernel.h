/*
 * microkernel.h (x86-64 AVX-512) — 8×48 fp32 GEMM micro-kernel.
 * Registers: 24 zmm accumulators (8 rows × 3 vectors of 16), 3 zmm for the B row, 1 for the A
 * broadcast — 28 of 32. Per k: 3 vector loads + 8 broadcasts feed 24 independent FMAs.
 * Measured on the 2-core AMD EPYC (Zen 5) development VM, gcc 12 -O3, one thread, M=256, KC=256,
 * against the core's register-only FMA peak of ≈117 GFLOP/s (the same for zmm and ymm there):
 * 8×48 and 6×64 reached 91-98 % on N×K = 1152×1152, 4608×1152, 1152×4608; 14×32 and 12×32
 * 86-92 %. Another shape can be tried by defining KILN_MR and KILN_NR (NR a multiple of 16,
 * MR·NR/16 + NR/16 + 1 <= 32) before including this header.
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

#ifndef KILN_MR
#define KILN_MR 8
#define KILN_NR 48
#endif
#define KILN_NV (KILN_NR / 16)

KILN_INLINE void kiln_microkernel(int kc, const float *restrict a_panel, const float *restrict b_panel, float *c,
                                  ptrdiff_t ldc, int m, int n, int accumulate, int last, kiln_epilogue ep, int row,
                                  int col) {
  __m512 acc[KILN_MR][KILN_NV];
#pragma GCC unroll 16
  for (int i = 0; i < KILN_MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < KILN_NV; v++) acc[i][v] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++) {
    __m512 b[KILN_NV];
#pragma GCC unroll 4
    for (int v = 0; v < KILN_NV; v++) b[v] = _mm512_load_ps(b_panel + (ptrdiff_t)k * KILN_NR + 16 * v);
    const float *a = a_panel + (ptrdiff_t)k * KILN_MR;
#pragma GCC unroll 16
    for (int i = 0; i < KILN_MR; i++) {
      __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < KILN_NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, b[v], acc[i][v]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < KILN_MR; i++) {
    if (i >= m) break;
    float *ci = c + (ptrdiff_t)i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < KILN_NV; v++) {
      int count = KILN_MIN(n - 16 * v, 16);
      if (count <= 0) break;
      kiln_tile_store(ci + 16 * v, acc[i][v], count, accumulate, last, ep, row + i, col + 16 * v);
    }
  }
}

#endif
