/*
 * attention.h — fused attention O = softmax(Q·Kᵀ·scale [+ mask])·V for every (batch, head),
 * never materializing the Sq×Skv score matrix.
 *
 *   Q [.., Sq, D], K and V [.., Skv, D] (K as rows, not transposed), O [.., Sq, D]: element
 *   (b, h, s, d) of X lives at X[b·s.batch + h·s.head + s·s.row + d] (d contiguous), so
 *   [B, S, H, D] has strides (S·H·D, D, H·D) and [B, H, S, D] has (H·S·D, S·D, D).
 *   mask (optional, additive): mask[b·mask_s.batch + h·mask_s.head + i·mask_s.row + j];
 *   a stride of 0 broadcasts over that axis. A row whose keys are all -inf gets zeros.
 *
 *   Per (b, h): the whole of K is packed transposed, a block of KILN_ATT_BK keys at a time
 *   (Kᵀ[d][j]), so scores are vectorized over keys; it is packed once per head and thread and
 *   reused by every query block (packing it per query block cost as much as the QKᵀ FMAs at
 *   S = 256, D = 72). Per block of KILN_ATT_BQ query rows, for each key block: scores
 *   KILN_ATT_ROWS query rows at a time (each Kᵀ and V vector loaded once for all of them);
 *   online softmax keeps the running max m and sum l per row and rescales the accumulator by
 *   exp(m_old - m_new).
 *   Threads: the (b, h, query block) units are split in contiguous ranges, so a thread meets
 *   each head in one run of units and packs its K once.
 */
#ifndef KILN_ATTENTION_H
#define KILN_ATTENTION_H

#ifndef KILN_ATT_BQ
#define KILN_ATT_BQ 64
#endif
#define KILN_ATT_BK (4 * KILN_VLEN)

typedef struct {
  ptrdiff_t batch, head, row;
} kiln_strides3;
#define KILN_STRIDES(b_, h_, r_) ((kiln_strides3){.batch = (b_), .head = (h_), .row = (r_)})

/* Floats of one thread's scratch for head dimension D and Skv keys: the packed Kᵀ of one head,
   the probabilities of KILN_ATT_ROWS <= 4 rows, the accumulators and the (m, l) of a query block. */
#define KILN_ATTENTION_SCRATCH_FLOATS(D, Skv)                                                          \
  ((size_t)(D) * KILN_ROUND_UP(Skv, KILN_ATT_BK) + 4 * KILN_ATT_BK +                                  \
   (size_t)KILN_ATT_BQ * KILN_ROUND_UP(D, KILN_VLEN) + 2 * KILN_ATT_BQ)

KILN_INLINE float kiln_scalar_exp(float x) {
  float r[KILN_VLEN];
  kv_storeu(r, kv_exp(kv_set1(x)));
  return r[0];
}

/* Kᵀ of keys [0, nk) into kt[d·BK + j], zeros for j >= nk. */
KILN_INLINE void kiln_att_pack_kt(const float *k, ptrdiff_t k_row, int nk, int D, float *restrict kt) {
  for (int j = 0; j < KILN_ATT_BK; j++) {
    const float *kj = k + (ptrdiff_t)j * k_row;
    if (j < nk)
      for (int d = 0; d < D; d++) kt[d * KILN_ATT_BK + j] = kj[d];
    else
      for (int d = 0; d < D; d++) kt[d * KILN_ATT_BK + j] = 0.0f;
  }
}

/* Query rows handled together, so each Kᵀ and V load feeds KILN_ATT_ROWS FMAs; the scores
   (ROWS × 4 vectors) take half the vector registers at most. KILN_ATT_BQ is a multiple of it. */
#if KILN_VREGS >= 32
#define KILN_ATT_ROWS 4
#elif KILN_VREGS >= 16
#define KILN_ATT_ROWS 2
#else
#define KILN_ATT_ROWS 1
#endif

/* acc[r][d, d + NVEC·VLEN) = corr[r]·acc + Σ_j p[r][j]·V[j][d, …): accumulators stay in registers
   across the keys. `count` < VLEN only for a last, partial vector (then NVEC is 1). */
#define KILN_ATT_PV_CHUNK(NVEC, LOAD_V)                                                       \
  do {                                                                                       \
    kiln_vf a[KILN_ATT_ROWS][NVEC];                                                          \
    for (int r = 0; r < KILN_ATT_ROWS; r++)                                                  \
      for (int c = 0; c < NVEC; c++)                                                         \
        a[r][c] = kv_mul(kv_load(acc + r * d_pad + d + c * KILN_VLEN), kv_set1(corr[r]));    \
    for (int j = 0; j < nk; j++) {                                                           \
      const float *vj = v + (ptrdiff_t)j * v_row + d;                                        \
      kiln_vf vv[NVEC];                                                                      \
      for (int c = 0; c < NVEC; c++) vv[c] = LOAD_V;                                         \
      for (int r = 0; r < KILN_ATT_ROWS; r++) {                                              \
        kiln_vf pj = kv_set1(p[r * KILN_ATT_BK + j]);                                        \
        for (int c = 0; c < NVEC; c++) a[r][c] = kv_fma(pj, vv[c], a[r][c]);                 \
      }                                                                                      \
    }                                                                                        \
    for (int r = 0; r < KILN_ATT_ROWS; r++)                                                  \
      for (int c = 0; c < NVEC; c++) kv_store(acc + r * d_pad + d + c * KILN_VLEN, a[r][c]); \
  } while (0)

/* KILN_ATT_ROWS query rows against one packed key block: update (m, l, acc) by online softmax. */
KILN_INLINE void kiln_att_rows_block(const float *const *q_rows, const float *kt, const float *v, ptrdiff_t v_row,
                                     const float *const *mask_rows, int nk, int D, int d_pad, float scale,
                                     float *restrict p, float *restrict acc, float *m, float *l) {
  enum { NV = KILN_ATT_BK / KILN_VLEN };
  kiln_vf s[KILN_ATT_ROWS][NV];
  for (int r = 0; r < KILN_ATT_ROWS; r++)
    for (int t = 0; t < NV; t++) s[r][t] = kv_zero();
  for (int d = 0; d < D; d++) {
    for (int t = 0; t < NV; t++) {
      kiln_vf kv = kv_load(kt + d * KILN_ATT_BK + t * KILN_VLEN);
      for (int r = 0; r < KILN_ATT_ROWS; r++) s[r][t] = kv_fma(kv_set1(q_rows[r][d]), kv, s[r][t]);
    }
  }
  const kiln_vf neg_inf = kv_set1(-__builtin_inff());
  float corr[KILN_ATT_ROWS];
  for (int r = 0; r < KILN_ATT_ROWS; r++) {
    kiln_vf vmax = neg_inf;
    for (int t = 0; t < NV; t++) {
      int j = t * KILN_VLEN;
      kiln_vf st = kv_mul(s[r][t], kv_set1(scale));
      if (j >= nk) st = neg_inf;
      else {
        int count = KILN_MIN(KILN_VLEN, nk - j);
        if (mask_rows[r]) st = kv_add(st, kiln_load_n(mask_rows[r] + j, count));
        if (count < KILN_VLEN) {
          float idx[KILN_VLEN];
          for (int q = 0; q < KILN_VLEN; q++) idx[q] = (float)q;
          st = kv_select_lt(kv_loadu(idx), kv_set1((float)count), st, neg_inf);
        }
      }
      s[r][t] = st;
      vmax = kv_max(vmax, st);
    }
    float m_new = KILN_MAX(m[r], kv_hmax(vmax));
    if (m_new == -__builtin_inff()) { /* every key so far is masked out: nothing to add */
      corr[r] = 1.0f;
      for (int t = 0; t < NV; t++) kv_store(p + r * KILN_ATT_BK + t * KILN_VLEN, kv_zero());
      continue;
    }
    corr[r] = kiln_scalar_exp(m[r] - m_new);
    kiln_vf vm = kv_set1(m_new), vsum = kv_zero();
    for (int t = 0; t < NV; t++) {
      kiln_vf pt = kv_exp(kv_sub(s[r][t], vm));
      vsum = kv_add(vsum, pt);
      kv_store(p + r * KILN_ATT_BK + t * KILN_VLEN, pt);
    }
    l[r] = l[r] * corr[r] + kv_hsum(vsum);
    m[r] = m_new;
  }
  int d = 0;
  for (; d + 2 * KILN_VLEN <= D; d += 2 * KILN_VLEN) KILN_ATT_PV_CHUNK(2, kv_loadu(vj + c * KILN_VLEN));
  for (; d < D; d += KILN_VLEN) {
    int count = KILN_MIN(KILN_VLEN, D - d);
    if (count == KILN_VLEN) KILN_ATT_PV_CHUNK(1, kv_loadu(vj));
    else KILN_ATT_PV_CHUNK(1, kv_load_tail(vj, count));
  }
}

KILN_INLINE void kiln_attention(const float *q, kiln_strides3 q_s, const float *k, kiln_strides3 k_s, const float *v,
                                kiln_strides3 v_s, float *o, kiln_strides3 o_s, const float *mask,
                                kiln_strides3 mask_s, int batch, int heads, int Sq, int Skv, int D, float scale,
                                float *scratch, int thread_id, int n_threads) {
  const int d_pad = KILN_ROUND_UP(D, KILN_VLEN);
  float *kt = scratch;
  float *p = kt + (size_t)D * KILN_ROUND_UP(Skv, KILN_ATT_BK);
  float *acc = p + 4 * KILN_ATT_BK; /* p holds KILN_ATT_ROWS <= 4 rows of probabilities */
  float *m = acc + (size_t)KILN_ATT_BQ * d_pad;
  float *l = m + KILN_ATT_BQ;
  const int q_blocks = KILN_CEIL_DIV(Sq, KILN_ATT_BQ);
  int u0, u1;
  kiln_thread_range(batch * heads * q_blocks, thread_id, n_threads, &u0, &u1);
  int packed_head = -1;
  for (int unit = u0; unit < u1; unit++) {
    int b = unit / (heads * q_blocks), h = (unit / q_blocks) % heads, i0 = (unit % q_blocks) * KILN_ATT_BQ;
    int nq = KILN_MIN(KILN_ATT_BQ, Sq - i0);
    const float *qb = q + b * q_s.batch + h * q_s.head;
    const float *kb = k + b * k_s.batch + h * k_s.head;
    const float *vb = v + b * v_s.batch + h * v_s.head;
    float *ob = o + b * o_s.batch + h * o_s.head;
    const float *mb = mask ? mask + b * mask_s.batch + h * mask_s.head : 0;
    if (unit / q_blocks != packed_head) {
      packed_head = unit / q_blocks;
      for (int j0 = 0; j0 < Skv; j0 += KILN_ATT_BK)
        kiln_att_pack_kt(kb + (ptrdiff_t)j0 * k_s.row, k_s.row, KILN_MIN(KILN_ATT_BK, Skv - j0), D,
                         kt + (size_t)j0 * D);
    }
    for (int r = 0; r < KILN_ATT_BQ; r++) {
      m[r] = -__builtin_inff();
      l[r] = 0.0f;
      for (int d = 0; d < d_pad; d++) acc[r * d_pad + d] = 0.0f;
    }
    for (int j0 = 0; j0 < Skv; j0 += KILN_ATT_BK) {
      int nk = KILN_MIN(KILN_ATT_BK, Skv - j0);
      const float *kt_block = kt + (size_t)j0 * D;
      for (int r0 = 0; r0 < nq; r0 += KILN_ATT_ROWS) {
        /* rows past the last query repeat it; their results land in unused slots of the block */
        const float *q_rows[KILN_ATT_ROWS], *mask_rows[KILN_ATT_ROWS];
        for (int r = 0; r < KILN_ATT_ROWS; r++) {
          int i = i0 + KILN_MIN(r0 + r, nq - 1);
          q_rows[r] = qb + (ptrdiff_t)i * q_s.row;
          mask_rows[r] = mb ? mb + (ptrdiff_t)i * mask_s.row + j0 : 0;
        }
        kiln_att_rows_block(q_rows, kt_block, vb + (ptrdiff_t)j0 * v_s.row, v_s.row, mask_rows, nk, D, d_pad, scale,
                            p, acc + r0 * d_pad, m + r0, l + r0);
      }
    }
    for (int r = 0; r < nq; r++) {
      float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
      float *oi = ob + (ptrdiff_t)(i0 + r) * o_s.row;
      kiln_vf vinv = kv_set1(inv);
      for (int d = 0; d < D; d += KILN_VLEN)
        kiln_store_n(oi + d, kv_mul(kv_load(acc + r * d_pad + d), vinv), KILN_MIN(KILN_VLEN, D - d));
    }
  }
}

#endif
