/*
 * conv2d.h — 2-D convolution (groups = 1) as an implicit GEMM on the profile's micro-kernel.
 *
 *   For each image n:  Y_n[OC × OH·OW] = W[OC × IC·KH·KW] · im2col(X_n)[IC·KH·KW × OH·OW]
 *   x NCHW [N, IC, H, W], weights OIHW [OC, IC, KH, KW] (already the row-major W above),
 *   y NCHW [N, OC, OH, OW], OH = (H + 2·pad - KH) / stride + 1 (same for OW).
 *
 *   The weights play the role of A and are packed once at load into MR-row panels per KC
 *   block: packed[p·KC·OCpad + ip·kc_p·MR + k·MR + i] (OCpad = OC rounded up to MR).
 *   The im2col matrix plays B and is packed on the fly, a KC×NC block at a time, into NR-wide
 *   panels in the thread's scratch (zero for padding and past the last column); it is never
 *   materialized whole. Epilogue: row = output channel (bias_row = conv bias), col = spatial
 *   index; a residual has y's layout (residual_ld = OH·OW) and is offset per image here.
 *   Threads: the OH·OW columns of every image are split in NR-wide panels.
 */
#ifndef KILN_CONV2D_H
#define KILN_CONV2D_H

#define KILN_CONV_PACKED_FLOATS(OC, IC, KH, KW) \
  ((size_t)(IC) * (KH) * (KW) * (size_t)KILN_ROUND_UP(OC, KILN_MR))
#define KILN_CONV_SCRATCH_FLOATS(nc, kc) ((size_t)KILN_ROUND_UP(nc, KILN_NR) * (size_t)(kc))

static inline void kiln_conv2d_pack_weights(const float *w, int OC, int IC, int KH, int KW, int kc, float *packed) {
  const int K = IC * KH * KW;
  const int oc_pad = KILN_ROUND_UP(OC, KILN_MR);
  for (int pc = 0; pc < K; pc += kc) {
    int depth = KILN_MIN(kc, K - pc);
    float *block = packed + (size_t)pc * oc_pad;
    for (int ip = 0; ip < oc_pad; ip += KILN_MR)
      for (int k = 0; k < depth; k++)
        for (int i = 0; i < KILN_MR; i++)
          block[(size_t)ip * depth + k * KILN_MR + i] = ip + i < OC ? w[(size_t)(ip + i) * K + pc + k] : 0.0f;
  }
}

/* im2col rows [pc, pc + kc) × columns [jc, jc + nc) of one image into NR-wide panels. */
KILN_INLINE void kiln_conv2d_pack_im2col(const float *x, int H, int W, int KH, int KW, int stride, int pad, int OW,
                                         int n_cols, int pc, int kc, int jc, int nc, float *restrict dst) {
  for (int jp = 0; jp < nc; jp += KILN_NR) {
    float *panel = dst + (size_t)jp * kc;
    for (int k = 0; k < kc; k++) {
      int kk = pc + k;
      int ic = kk / (KH * KW), kh = (kk / KW) % KH, kw = kk % KW;
      const float *xc = x + (size_t)ic * H * W;
      for (int j = 0; j < KILN_NR; j++) {
        int col = jc + jp + j;
        float value = 0.0f;
        if (col < n_cols) {
          int oh = col / OW, ow = col % OW;
          int ih = oh * stride + kh - pad, iw = ow * stride + kw - pad;
          if (ih >= 0 && ih < H && iw >= 0 && iw < W) value = xc[(size_t)ih * W + iw];
        }
        panel[k * KILN_NR + j] = value;
      }
    }
  }
}

KILN_INLINE void kiln_conv2d(const float *x, const float *w_packed, float *y, int N, int IC, int H, int W, int OC,
                             int KH, int KW, int stride, int pad, kiln_blocking blk, kiln_epilogue ep,
                             float *scratch, int thread_id, int n_threads) {
  const int OH = (H + 2 * pad - KH) / stride + 1, OW = (W + 2 * pad - KW) / stride + 1;
  const int n_cols = OH * OW, K = IC * KH * KW;
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
      for (int pc = 0; pc < K; pc += blk.kc) {
        int kc = KILN_MIN(blk.kc, K - pc);
        int accumulate = pc > 0, last = pc + kc == K;
        kiln_conv2d_pack_im2col(xn, H, W, KH, KW, stride, pad, OW, n_cols, pc, kc, jc, nc, scratch);
        const float *a_block = w_packed + (size_t)pc * oc_pad;
        for (int ic = 0; ic < OC; ic += blk.mc) {
          int mc = KILN_MIN(blk.mc, OC - ic);
          for (int jr = 0; jr < nc; jr += KILN_NR) {
            int cols = KILN_MIN(KILN_NR, nc - jr);
            for (int ir = 0; ir < mc; ir += KILN_MR) {
              int row = ic + ir, col = jc + jr;
              kiln_microkernel(kc, a_block + (size_t)row * kc, scratch + (size_t)jr * kc,
                               yn + (size_t)row * n_cols + col, n_cols, KILN_MIN(KILN_MR, mc - ir), cols,
                               accumulate, last, ep_n, row, col);
            }
          }
        }
      }
    }
  }
}

#endif
