/*
 * rownorm.h — row normalization + modulation, and group norm over NCHW.
 *
 * kiln_rownorm, per row r of width D (x row-major with ldx, y with ldy; y may equal x):
 *     layer norm:  t = (x - mean) / sqrt(var + eps)      (var: biased, over the row)
 *     RMS norm:    t = x / sqrt(mean(x²) + eps)
 *     affine:      t = t·weight[d] + bias[d]             (each optional)
 *     modulation:  t = t·(1 + scale[b][d]) + shift[b][d] (each optional), b = r / rows_per_batch,
 *                  scale/shift rows mod_ld apart — adaLN's per-sample conditioning.
 * Statistics use two passes over the row (mean, then centered squares) for accuracy.
 * Threads: rows are split in contiguous ranges.
 *
 * kiln_groupnorm: x, y [N, C, HW] (NCHW with HW = H·W), G groups of C/G channels; statistics
 * per (n, group), then per-channel weight/bias (optional) and an activation (KILN_ACT_*).
 * Threads: the (n, group) units are split in contiguous ranges.
 */
#ifndef KILN_ROWNORM_H
#define KILN_ROWNORM_H

enum { KILN_NORM_LAYER = 0, KILN_NORM_RMS = 1 };

KILN_INLINE float kiln_sum(const float *x, int n) {
  kiln_vf s0 = kv_zero(), s1 = kv_zero();
  int i = 0;
  for (; i + 2 * KILN_VLEN <= n; i += 2 * KILN_VLEN) {
    s0 = kv_add(s0, kv_loadu(x + i));
    s1 = kv_add(s1, kv_loadu(x + i + KILN_VLEN));
  }
  for (; i < n; i += KILN_VLEN) s0 = kv_add(s0, kiln_load_n(x + i, KILN_MIN(KILN_VLEN, n - i)));
  return kv_hsum(kv_add(s0, s1));
}

/* Σ (x - center)² */
KILN_INLINE float kiln_sum_squares(const float *x, int n, float center) {
  kiln_vf c = kv_set1(center), s0 = kv_zero(), s1 = kv_zero();
  int i = 0;
  for (; i + 2 * KILN_VLEN <= n; i += 2 * KILN_VLEN) {
    kiln_vf d0 = kv_sub(kv_loadu(x + i), c), d1 = kv_sub(kv_loadu(x + i + KILN_VLEN), c);
    s0 = kv_fma(d0, d0, s0);
    s1 = kv_fma(d1, d1, s1);
  }
  for (; i + KILN_VLEN <= n; i += KILN_VLEN) {
    kiln_vf d0 = kv_sub(kv_loadu(x + i), c);
    s0 = kv_fma(d0, d0, s0);
  }
  float tail = 0.0f;
  for (; i < n; i++) tail += (x[i] - center) * (x[i] - center);
  return kv_hsum(kv_add(s0, s1)) + tail;
}

KILN_INLINE void kiln_rownorm(const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy, int rows, int D, int kind,
                              float eps, const float *weight, const float *bias, const float *mod_scale,
                              const float *mod_shift, ptrdiff_t mod_ld, int rows_per_batch, int thread_id,
                              int n_threads) {
  int r0, r1;
  kiln_thread_range(rows, thread_id, n_threads, &r0, &r1);
  for (int r = r0; r < r1; r++) {
    const float *xr = x + (ptrdiff_t)r * ldx;
    float *yr = y + (ptrdiff_t)r * ldy;
    float mean = kind == KILN_NORM_LAYER ? kiln_sum(xr, D) / (float)D : 0.0f;
    float rstd = 1.0f / __builtin_sqrtf(kiln_sum_squares(xr, D, mean) / (float)D + eps);
    const float *sc = mod_scale ? mod_scale + (ptrdiff_t)(r / rows_per_batch) * mod_ld : 0;
    const float *sh = mod_shift ? mod_shift + (ptrdiff_t)(r / rows_per_batch) * mod_ld : 0;
    kiln_vf vmean = kv_set1(mean), vrstd = kv_set1(rstd), one = kv_set1(1.0f);
    for (int d = 0; d < D; d += KILN_VLEN) {
      int count = KILN_MIN(KILN_VLEN, D - d);
      kiln_vf t = kv_mul(kv_sub(kiln_load_n(xr + d, count), vmean), vrstd);
      if (weight) t = kv_mul(t, kiln_load_n(weight + d, count));
      if (bias) t = kv_add(t, kiln_load_n(bias + d, count));
      if (sc) t = kv_mul(t, kv_add(one, kiln_load_n(sc + d, count)));
      if (sh) t = kv_add(t, kiln_load_n(sh + d, count));
      kiln_store_n(yr + d, t, count);
    }
  }
}

KILN_INLINE void kiln_groupnorm(const float *x, float *y, int N, int C, int HW, int groups, float eps,
                                const float *weight, const float *bias, int activation, int thread_id,
                                int n_threads) {
  const int cg = C / groups;
  const int count_all = cg * HW;
  int u0, u1;
  kiln_thread_range(N * groups, thread_id, n_threads, &u0, &u1);
  for (int unit = u0; unit < u1; unit++) {
    int n = unit / groups, g = unit % groups;
    size_t base = ((size_t)n * C + (size_t)g * cg) * HW;
    const float *xg = x + base;
    float *yg = y + base;
    float mean = kiln_sum(xg, count_all) / (float)count_all;
    float rstd = 1.0f / __builtin_sqrtf(kiln_sum_squares(xg, count_all, mean) / (float)count_all + eps);
    for (int cc = 0; cc < cg; cc++) {
      int ch = g * cg + cc;
      float w = weight ? weight[ch] * rstd : rstd;
      float b = (bias ? bias[ch] : 0.0f) - mean * w;
      kiln_vf vw = kv_set1(w), vb = kv_set1(b);
      const float *xc = xg + (size_t)cc * HW;
      float *yc = yg + (size_t)cc * HW;
      for (int i = 0; i < HW; i += KILN_VLEN) {
        int count = KILN_MIN(KILN_VLEN, HW - i);
        kiln_store_n(yc + i, kv_activation(kv_fma(kiln_load_n(xc + i, count), vw, vb), activation), count);
      }
    }
  }
}

#endif
