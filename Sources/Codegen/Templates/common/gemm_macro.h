/*
 * gemm_macro.h — packed GEMM C[M×N] = epilogue(A[M×K] · B[K×N]), BLIS style, written once over
 * the profile's micro-kernel (KILN_MR × KILN_NR, kiln_microkernel) and vector primitives.
 *
 *   B (weights) is packed once at load by kiln_pack_b into NR-wide panels, one set per KC
 *   block:  packed[p·KC·Npad + jp·kc_p·NR + k·NR + j] = B[p·KC + k][jp·NR + j]
 *   (Npad = N rounded up to NR, kc_p = the depth of block p, zero past column N).
 *   A is packed per MC×KC block, on the fly, into MR-row panels in the thread's scratch.
 *
 *   Loops (the blocking constants live only in the kiln_blocking argument):
 *     jc over N by NC → pc over K by KC → ic over M by MC (pack A) → jr by NR → ir by MR
 *   Threads: the M rows are split in MR-row units when there are at least as many units as
 *   threads, otherwise the N columns are split in NR-wide panels.
 */
#ifndef KILN_GEMM_MACRO_H
#define KILN_GEMM_MACRO_H

/* Floats of the packed B buffer (independent of KC: blocks are stored back to back). */
#define KILN_PACKED_B_FLOATS(K, N) ((size_t)(K) * (size_t)KILN_ROUND_UP(N, KILN_NR))
/* Floats of one thread's scratch for kiln_gemm with MC = mc, KC = kc. */
#define KILN_GEMM_SCRATCH_FLOATS(mc, kc) ((size_t)KILN_ROUND_UP(mc, KILN_MR) * (size_t)(kc))

/*
 * Pack B at load time. Not inlined: a module packs hundreds of weights from one switch, and
 * inlined copies were most of the C compiler's work on DiT-XL/2 for no run-time gain. Element (k, n) of B is b[k·stride_k + n·stride_n]: a row-major K×N
 * matrix has (N, 1); a PyTorch Linear weight [N, K] (B = Wᵀ) has (1, K).
 */
static __attribute__((noinline, unused)) void kiln_pack_b(const float *b, ptrdiff_t stride_k, ptrdiff_t stride_n, int K, int N, int kc,
                               float *packed) {
  int n_panels = KILN_CEIL_DIV(N, KILN_NR);
  for (int pc = 0; pc < K; pc += kc) {
    int depth = KILN_MIN(kc, K - pc);
    float *block = packed + (size_t)pc * n_panels * KILN_NR;
    for (int jp = 0; jp < n_panels; jp++) {
      float *panel = block + (size_t)jp * depth * KILN_NR;
      for (int k = 0; k < depth; k++)
        for (int j = 0; j < KILN_NR; j++) {
          int n = jp * KILN_NR + j;
          panel[k * KILN_NR + j] = n < N ? b[(ptrdiff_t)(pc + k) * stride_k + (ptrdiff_t)n * stride_n] : 0.0f;
        }
    }
  }
}

/* Pack rows [0, mc) × depth [0, kc) of a (row-major, lda) into MR-row panels, zero-padded. */
KILN_INLINE void kiln_pack_a_block(const float *a, ptrdiff_t lda, int mc, int kc, float *restrict dst) {
  for (int ip = 0; ip < mc; ip += KILN_MR) {
    int rows = KILN_MIN(KILN_MR, mc - ip);
    float *panel = dst + (size_t)ip * kc;
    if (rows == KILN_MR) {
      for (int k = 0; k < kc; k++)
        for (int i = 0; i < KILN_MR; i++) panel[k * KILN_MR + i] = a[(ptrdiff_t)(ip + i) * lda + k];
    } else {
      for (int k = 0; k < kc; k++)
        for (int i = 0; i < KILN_MR; i++) panel[k * KILN_MR + i] = i < rows ? a[(ptrdiff_t)(ip + i) * lda + k] : 0.0f;
    }
  }
}

/*
 * Weights stream from DRAM once per step: the hardware prefetcher stops at every 4 KiB page, so
 * the first micro-kernel on each B panel would wait on memory. Each of the `calls` micro-kernels
 * on the current panel prefetches its slice of the next panel's `lines` cache lines into L2.
 */
KILN_INLINE void kiln_prefetch_slice(const char *next, int lines, int call, int calls) {
  int per_call = KILN_CEIL_DIV(lines, calls);
  int first = call * per_call, end = KILN_MIN(first + per_call, lines);
  for (int line = first; line < end; line++) __builtin_prefetch(next + (size_t)line * 64, 0, 2);
}

/* The share of the output one thread computes: rows [*r0, *r1) × columns [*c0, *c1). */
KILN_INLINE void kiln_gemm_thread_tile(int M, int N, int tid, int nth, int *r0, int *r1, int *c0, int *c1) {
  int row_units = KILN_CEIL_DIV(M, KILN_MR);
  if (row_units >= nth) {
    kiln_thread_range(row_units, tid, nth, r0, r1);
    *r0 *= KILN_MR;
    *r1 = KILN_MIN(*r1 * KILN_MR, M);
    *c0 = 0;
    *c1 = N;
  } else {
    kiln_thread_range(KILN_CEIL_DIV(N, KILN_NR), tid, nth, c0, c1);
    *c0 *= KILN_NR;
    *c1 = KILN_MIN(*c1 * KILN_NR, N);
    *r0 = 0;
    *r1 = M;
  }
}

/*
 * C[M×N] (ldc) = epilogue(A[M×K] (lda) · B), B packed by kiln_pack_b with the same blk.kc.
 * scratch: KILN_GEMM_SCRATCH_FLOATS(blk.mc, blk.kc) floats, private to the thread.
 */
KILN_INLINE void kiln_gemm(const float *a, ptrdiff_t lda, const float *b_packed, float *c, ptrdiff_t ldc, int M,
                           int N, int K, kiln_blocking blk, kiln_epilogue ep, float *scratch, int thread_id,
                           int n_threads) {
  int r0, r1, c0, c1;
  kiln_gemm_thread_tile(M, N, thread_id, n_threads, &r0, &r1, &c0, &c1);
  const size_t n_pad = (size_t)KILN_ROUND_UP(N, KILN_NR);
  /* Column blocks of equal width (at most blk.nc): 1152 columns as 576 + 576, not 1008 + 144,
     whose second block repacks A for three panels. */
  const int n_blocks = KILN_CEIL_DIV(c1 - c0, blk.nc);
  const int nc_even = KILN_ROUND_UP(KILN_CEIL_DIV(c1 - c0, KILN_MAX(n_blocks, 1)), KILN_NR);
  for (int jc = c0; jc < c1; jc += nc_even) {
    int nc = KILN_MIN(nc_even, c1 - jc);
    for (int pc = 0; pc < K; pc += blk.kc) {
      int kc = KILN_MIN(blk.kc, K - pc);
      int accumulate = pc > 0, last = pc + kc == K;
      const float *b_block = b_packed + (size_t)pc * n_pad;
      for (int ic = r0; ic < r1; ic += blk.mc) {
        int mc = KILN_MIN(blk.mc, r1 - ic);
        kiln_pack_a_block(a + (ptrdiff_t)ic * lda + pc, lda, mc, kc, scratch);
        const int calls = KILN_CEIL_DIV(mc, KILN_MR), panel_lines = kc * KILN_NR * (int)sizeof(float) / 64;
        for (int jr = 0; jr < nc; jr += KILN_NR) {
          int n = KILN_MIN(KILN_NR, nc - jr);
          const float *b_panel = b_block + (size_t)((jc + jr) / KILN_NR) * kc * KILN_NR;
          const char *b_next = (const char *)(b_panel + (size_t)kc * KILN_NR);
          for (int ir = 0; ir < mc; ir += KILN_MR) {
            int row = ic + ir, col = jc + jr;
            kiln_prefetch_slice(b_next, panel_lines, ir / KILN_MR, calls);
            kiln_microkernel(kc, scratch + (size_t)ir * kc, b_panel, c + (ptrdiff_t)row * ldc + col, ldc,
                             KILN_MIN(KILN_MR, mc - ir), n, accumulate, last, ep, row, col);
          }
        }
      }
    }
  }
}

#endif
