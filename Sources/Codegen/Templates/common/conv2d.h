/*
 * conv2d.h — 2-D convolution (groups = 1) as an implicit GEMM on the profile's micro-kernel.
 *
 *   For each image n:  Y_n[OC × OH·OW] = W[OC × IC·KH·KW] · im2col(X_n)[IC·KH·KW × OH·OW]
 *   x NCHW [N, IC, H, W], weights OIHW [OC, IC, KH, KW] (already the row-major W above),
 *   y NCHW [N, OC, OH, OW], OH = (H + 2·pad - KH) / stride + 1 (same for OW).
 *
 *   The weights play the role of A and are packed once at load into MR-row panels per KC
 *   block: block p, of depth kc_p from depth pc_p (see kiln_conv2d_depth_start), holds
 *   packed[pc_p·OCpad + ip·kc_p·MR + k·MR + i] (OCpad = OC rounded up to MR).
 *   The im2col matrix plays B and is packed on the fly, a KC×NC block at a time, into NR-wide
 *   panels in the thread's scratch (zero for padding and past the last column); it is never
 *   materialized whole. Epilogue: row = output channel (bias_row = conv bias), col = spatial
 *   index; a residual has y's layout (residual_ld = OH·OW) and is offset per image here.
 *
 *   Loops (BLIS order; every output channel is a row of the one A block):
 *     image → jc over the thread's columns by NC → pc over K by KC (pack B) → jr by NR → ir by MR
 *   NC is small (a few panels, see the lowering): the OC×NC block of C stays in L2 across the
 *   KC blocks, the KC×NR micro-panel of B in L1 while every MR-row panel of A streams by it.
 *   Threads: the OH·OW columns of every image are split in NR-wide panels.
 *
 *   Packing: a panel's NR columns fall into a few runs that share one output row oh (one run
 *   when OW >= NR and the panel does not cross a row). For an im2col row (ic, kh, kw), a run
 *   reads one input row: for stride 1 a contiguous span, copied a vector at a time, with zeros
 *   where it leaves the image. So the per-element index arithmetic is paid per run, not per
 *   element.
 */
#ifndef KILN_CONV2D_H
#define KILN_CONV2D_H

#define KILN_CONV_PACKED_FLOATS(OC, IC, KH, KW) \
  ((size_t)(IC) * (KH) * (KW) * (size_t)KILN_ROUND_UP(OC, KILN_MR))
#define KILN_CONV_SCRATCH_FLOATS(nc, kc) ((size_t)KILN_ROUND_UP(nc, KILN_NR) * (size_t)(kc))

/* The depth K = IC·KH·KW is cut into ceil(K / KC) blocks of near-equal depth (none deeper than
 * KC): a 1×1 convolution over 256 channels takes 4 blocks of 64, not 3 of 80 and a short one of
 * 16 whose C tiles would cost as much to load and store as to compute. Block p starts here. */
KILN_INLINE int kiln_conv2d_depth_start(int K, int blocks, int p) { return (int)((long long)K * p / blocks); }

static inline void kiln_conv2d_pack_weights(const float *w, int OC, int IC, int KH, int KW, int kc, float *packed) {
  const int K = IC * KH * KW;
  const int oc_pad = KILN_ROUND_UP(OC, KILN_MR);
  const int blocks = KILN_CEIL_DIV(K, kc);
  for (int p = 0; p < blocks; p++) {
    int pc = kiln_conv2d_depth_start(K, blocks, p), depth = kiln_conv2d_depth_start(K, blocks, p + 1) - pc;
    float *block = packed + (size_t)pc * oc_pad;
    for (int ip = 0; ip < oc_pad; ip += KILN_MR)
      for (int k = 0; k < depth; k++)
        for (int i = 0; i < KILN_MR; i++)
          block[(size_t)ip * depth + k * KILN_MR + i] = ip + i < OC ? w[(size_t)(ip + i) * K + pc + k] : 0.0f;
  }
}

/* Columns [first, first + count) of one panel that share output row `oh`, starting at output
 * column `ow`; they land at panel offset `j`. */
typedef struct {
  int j, count, oh, ow;
} kiln_conv_run;

/* Split panel columns [col, col + NR) ∩ [0, n_cols) into runs of one output row; returns the
 * number of runs and the number of valid columns (the rest of the panel is zero). */
KILN_INLINE int kiln_conv2d_panel_runs(int col, int n_cols, int OW, kiln_conv_run *runs, int *valid) {
  int end = KILN_MIN(col + KILN_NR, n_cols), n_runs = 0;
  *valid = end - col;
  for (int c = col; c < end;) {
    int oh = c / OW, ow = c - oh * OW;
    int count = KILN_MIN(OW - ow, end - c);
    runs[n_runs++] = (kiln_conv_run){.j = c - col, .count = count, .oh = oh, .ow = ow};
    c += count;
  }
  return n_runs;
}

/* dst[0, n) = src[0, n) for 0 <= n <= NR, a vector at a time. The loop has a constant trip
 * count so that the compiler unrolls it rather than calling memmove for a few dozen floats. */
KILN_INLINE void kiln_conv2d_copy(float *dst, const float *src, int n) {
#pragma GCC unroll 8
  for (int i = 0; i < KILN_NR; i += KILN_VLEN) {
    if (i >= n) break;
    int count = KILN_MIN(KILN_VLEN, n - i);
    kiln_store_n(dst + i, kiln_load_n(src + i, count), count);
  }
}

/* dst[0, n) = 0 for 0 <= n <= NR. */
KILN_INLINE void kiln_conv2d_zero(float *dst, int n) {
#pragma GCC unroll 8
  for (int i = 0; i < KILN_NR; i += KILN_VLEN) {
    if (i >= n) break;
    int count = KILN_MIN(KILN_VLEN, n - i);
    kiln_store_n(dst + i, kv_zero(), count);
  }
}

/* One run of one im2col row (input channel plane xc, kernel offset kh, kw) into dst[0, count). */
KILN_INLINE void kiln_conv2d_pack_run(float *dst, const float *xc, int H, int W, int kh, int kw, int stride, int pad_h,
                                      int pad_w, kiln_conv_run run) {
  int ih = run.oh * stride + kh - pad_h;
  if (ih < 0 || ih >= H) {
    kiln_conv2d_zero(dst, run.count);
    return;
  }
  const float *xr = xc + (size_t)ih * W;
  int iw0 = run.ow * stride + kw - pad_w;
  /* columns j of the run read iw = iw0 + j·stride; [lo, hi) is the part inside the row */
  int lo = iw0 >= 0 ? 0 : KILN_MIN(run.count, (-iw0 + stride - 1) / stride);
  int hi = iw0 >= W ? 0 : KILN_MIN(run.count, (W - iw0 + stride - 1) / stride);
  if (hi < lo) hi = lo;
  kiln_conv2d_zero(dst, lo);
  if (stride == 1) kiln_conv2d_copy(dst + lo, xr + iw0 + lo, hi - lo);
  else
    for (int j = lo; j < hi; j++) dst[j] = xr[iw0 + j * stride];
  kiln_conv2d_zero(dst + hi, run.count - hi);
}

/* im2col rows [pc, pc + kc) × columns [jc, jc + nc) of one image into NR-wide panels; pad_h rows
 * of zeros above the image, pad_w columns left of it. */
KILN_INLINE void kiln_conv2d_pack_im2col(const float *x, int H, int W, int KH, int KW, int stride, int pad_h,
                                         int pad_w, int OW, int n_cols, int pc, int kc, int jc, int nc,
                                         float *restrict dst) {
  kiln_conv_run runs[KILN_NR];
  for (int jp = 0; jp < nc; jp += KILN_NR) {
    float *panel = dst + (size_t)jp * kc;
    int valid;
    int n_runs = kiln_conv2d_panel_runs(jc + jp, n_cols, OW, runs, &valid);
    int ic = pc / (KH * KW), kh = pc / KW % KH, kw = pc % KW;
    for (int k = 0; k < kc; k++) {
      const float *xc = x + (size_t)ic * H * W;
      float *row = panel + (size_t)k * KILN_NR;
      for (int r = 0; r < n_runs; r++)
        kiln_conv2d_pack_run(row + runs[r].j, xc, H, W, kh, kw, stride, pad_h, pad_w, runs[r]);
      kiln_conv2d_zero(row + valid, KILN_NR - valid);
      if (++kw == KW) {
        kw = 0;
        if (++kh == KH) {
          kh = 0;
          ic++;
        }
      }
    }
  }
}

KILN_INLINE void kiln_conv2d(const float *x, const float *w_packed, float *y, int N, int IC, int H, int W, int OC,
                             int KH, int KW, int stride, int pad, kiln_blocking blk, kiln_epilogue ep,
                             float *scratch, int thread_id, int n_threads) {
  const int OH = (H + 2 * pad - KH) / stride + 1, OW = (W + 2 * pad - KW) / stride + 1;
  const int n_cols = OH * OW, K = IC * KH * KW, blocks = KILN_CEIL_DIV(K, blk.kc);
  const int oc_pad = KILN_ROUND_UP(OC, KILN_MR);
  int c0, c1;
  kiln_thread_range(KILN_CEIL_DIV(n_cols, KILN_NR), thread_id, n_threads, &c0, &c1);
  c0 *= KILN_NR;
  c1 = KILN_MIN(c1 * KILN_NR, n_cols);
  for (int n = 0; n < N; n++) {
    const float *xn = x + (size_t)n * IC * H * W;
    float *yn = y + (size_t)n * OC * n_cols;
    kiln_epilogue ep_n = ep;
    if (ep.residual) ep_n.residual = ep.residual + (size_t)n * OC * n_cols;
    for (int jc = c0; jc < c1; jc += blk.nc) {
      int nc = KILN_MIN(blk.nc, c1 - jc);
      for (int p = 0; p < blocks; p++) {
        int pc = kiln_conv2d_depth_start(K, blocks, p), kc = kiln_conv2d_depth_start(K, blocks, p + 1) - pc;
        int accumulate = pc > 0, last = pc + kc == K;
        kiln_conv2d_pack_im2col(xn, H, W, KH, KW, stride, pad, pad, OW, n_cols, pc, kc, jc, nc, scratch);
        const float *a_block = w_packed + (size_t)pc * oc_pad;
        for (int jr = 0; jr < nc; jr += KILN_NR) {
          int cols = KILN_MIN(KILN_NR, nc - jr);
          for (int row = 0; row < OC; row += KILN_MR) {
            int col = jc + jr;
            kiln_microkernel(kc, a_block + (size_t)row * kc, scratch + (size_t)jr * kc,
                             yn + (size_t)row * n_cols + col, n_cols, KILN_MIN(KILN_MR, OC - row), cols,
                             accumulate, last, ep_n, row, col);
          }
        }
      }
    }
  }
}

/*
 * Nearest 2× upsampling followed by a 3×3 convolution (stride 1, padding 1), without the
 * upsampled tensor. Output pixel (2i + a, 2j + b) reads upsampled rows 2i + a - 1 … 2i + a + 1,
 * which are input rows i - 1, i, i (a = 0) or i, i, i + 1 (a = 1), and the same for columns. So
 * each of the four phases (a, b) is a 2×2 convolution of the input whose taps are the 3×3 taps
 * summed in pairs,
 *     rows of phase a = 0: {w0}, {w1 + w2}        a = 1: {w0 + w1}, {w2}     (columns alike, by b)
 * with 1 - a rows of padding above and 1 - b columns left: 4·IC multiply-adds per output value
 * instead of 9·IC.
 *   x [N, IC, H, W] → y [N, OC, 2H, 2W]. The weights of the four phases are packed at load one
 *   after the other, each as a 2×2 convolution (KILN_CONV_PACKED_FLOATS(OC, IC, 2, 2) floats).
 *   Each phase is an implicit GEMM over the input's H·W columns; its OC×NC block of C goes to the
 *   thread's scratch and from there to every other column of every other output row.
 *   Epilogue: bias_row and activation (col is an input column, so nothing indexed by it).
 */
#define KILN_CONV_UPSAMPLE2X_PACKED_FLOATS(OC, IC) (4 * KILN_CONV_PACKED_FLOATS(OC, IC, 2, 2))
#define KILN_CONV_UPSAMPLE2X_SCRATCH_FLOATS(OC, nc, kc) \
  (KILN_CONV_SCRATCH_FLOATS(nc, kc) + (size_t)KILN_ROUND_UP(OC, KILN_MR) * KILN_ROUND_UP(nc, KILN_NR))

/* Along one axis, the 3×3 taps (bit t set for tap t) that tap u of phase `phase` (a or b) sums. */
KILN_INLINE int kiln_conv2d_upsample2x_taps(int phase, int u) {
  static const int taps[2][2] = {{1, 6}, {3, 4}}; /* a = 0: {0}, {1, 2};  a = 1: {0, 1}, {2} */
  return taps[phase][u];
}

static inline void kiln_conv2d_upsample2x_pack_weights(const float *w, int OC, int IC, int kc, float *packed) {
  const int K = IC * 4, oc_pad = KILN_ROUND_UP(OC, KILN_MR), blocks = KILN_CEIL_DIV(K, kc);
  for (int phase = 0; phase < 4; phase++) {
    int a = phase >> 1, b = phase & 1;
    float *phase_packed = packed + (size_t)phase * K * oc_pad;
    for (int p = 0; p < blocks; p++) {
      int pc = kiln_conv2d_depth_start(K, blocks, p), depth = kiln_conv2d_depth_start(K, blocks, p + 1) - pc;
      float *block = phase_packed + (size_t)pc * oc_pad;
      for (int ip = 0; ip < oc_pad; ip += KILN_MR)
        for (int k = 0; k < depth; k++) {
          int kk = pc + k, ic = kk / 4, rows = kiln_conv2d_upsample2x_taps(a, kk / 2 % 2),
              cols = kiln_conv2d_upsample2x_taps(b, kk % 2);
          for (int i = 0; i < KILN_MR; i++) {
            float sum = 0.0f;
            if (ip + i < OC) {
              const float *taps = w + ((size_t)(ip + i) * IC + ic) * 9;
              for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++)
                  if ((rows >> kh & 1) && (cols >> kw & 1)) sum += taps[kh * 3 + kw];
            }
            block[(size_t)ip * depth + k * KILN_MR + i] = sum;
          }
        }
    }
  }
}

KILN_INLINE void kiln_conv2d_upsample2x(const float *x, const float *w_packed, float *y, int N, int IC, int H, int W,
                                        int OC, kiln_blocking blk, kiln_epilogue ep, float *scratch, int thread_id,
                                        int n_threads) {
  const int n_cols = H * W, K = IC * 4, OW = 2 * W, blocks = KILN_CEIL_DIV(K, blk.kc);
  const int oc_pad = KILN_ROUND_UP(OC, KILN_MR), c_ld = KILN_ROUND_UP(blk.nc, KILN_NR);
  float *b_block = scratch, *c_block = scratch + KILN_CONV_SCRATCH_FLOATS(blk.nc, blk.kc);
  int c0, c1;
  kiln_thread_range(KILN_CEIL_DIV(n_cols, KILN_NR), thread_id, n_threads, &c0, &c1);
  c0 *= KILN_NR;
  c1 = KILN_MIN(c1 * KILN_NR, n_cols);
  for (int n = 0; n < N; n++) {
    const float *xn = x + (size_t)n * IC * n_cols;
    float *yn = y + (size_t)n * OC * 4 * n_cols;
    for (int jc = c0; jc < c1; jc += blk.nc) {
      int nc = KILN_MIN(blk.nc, c1 - jc);
      for (int phase = 0; phase < 4; phase++) {
        int a = phase >> 1, b = phase & 1;
        const float *w_phase = w_packed + (size_t)phase * K * oc_pad;
        for (int p = 0; p < blocks; p++) {
          int pc = kiln_conv2d_depth_start(K, blocks, p), kc = kiln_conv2d_depth_start(K, blocks, p + 1) - pc;
          int accumulate = pc > 0, last = pc + kc == K;
          kiln_conv2d_pack_im2col(xn, H, W, 2, 2, 1, 1 - a, 1 - b, W, n_cols, pc, kc, jc, nc, b_block);
          const float *a_block = w_phase + (size_t)pc * oc_pad;
          for (int jr = 0; jr < nc; jr += KILN_NR) {
            int cols = KILN_MIN(KILN_NR, nc - jr);
            for (int row = 0; row < OC; row += KILN_MR)
              kiln_microkernel(kc, a_block + (size_t)row * kc, b_block + (size_t)jr * kc, c_block + (size_t)row * c_ld + jr,
                               c_ld, KILN_MIN(KILN_MR, OC - row), cols, accumulate, last, ep, row, jc + jr);
          }
        }
        /* input pixel (i, j) of the block → output pixel (2i + a, 2j + b), a row segment at a time */
        for (int c = jc; c < jc + nc;) {
          int i = c / W, j = c - i * W, count = KILN_MIN(W - j, jc + nc - c);
          for (int oc = 0; oc < OC; oc++) {
            const float *src = c_block + (size_t)oc * c_ld + (c - jc);
            float *dst = yn + ((size_t)oc * 2 * H + 2 * i + a) * OW + 2 * j + b;
            for (int t = 0; t < count; t++) dst[2 * t] = src[t];
          }
          c += count;
        }
      }
    }
  }
}

#endif
