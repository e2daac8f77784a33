/*
 * kernel_tests.c — checks every Kiln kernel template family of one profile against plain
 * double-precision references on seeded random inputs with awkward sizes, and (--bench) times
 * the packed GEMM on one thread.
 *
 *   cc -O3 <profile flags> -I Sources/Codegen/Templates -I Sources/Codegen/Templates/<profile> \
 *      Tests/CodegenTests/kernels/kernel_tests.c -o kernel_tests -lm
 *   ./kernel_tests [--seed N]          exit 0 when every check passes
 *   ./kernel_tests --bench [MC KC NC]  GFLOP/s for M=256 and three N×K shapes
 *
 * Every output buffer is filled with NaN before a kernel runs, so an element a kernel forgets
 * to write fails the check. Multi-thread splits are exercised by calling the kernel once per
 * thread id in turn.
 */
#define _POSIX_C_SOURCE 200809L
#include "vector.h"
#include "microkernel.h"
#include "common/gemm_macro.h"
#include "common/attention.h"
#include "common/rownorm.h"
#include "common/conv2d.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOLERANCE 1e-4

static uint64_t rng_state;
static double rand_uniform(void) { /* splitmix64 → [-1, 1) */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) / (double)(1ull << 52) - 1.0;
}

static float *alloc_floats(size_t n) {
  size_t bytes = KILN_ROUND_UP((n + 16) * sizeof(float), KILN_ALIGN);
  float *p = aligned_alloc(KILN_ALIGN, bytes);
  if (!p) {
    fprintf(stderr, "out of memory (%zu floats)\n", n);
    exit(2);
  }
  return p;
}
static float *random_floats(size_t n, double amplitude) {
  float *p = alloc_floats(n);
  for (size_t i = 0; i < n; i++) p[i] = (float)(amplitude * rand_uniform());
  return p;
}
static void poison(float *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = NAN;
}

static int failures, checks;
static double worst_error;

/* ‖out − ref‖ / ‖ref‖ over n values, NaN when any output is NaN. */
static double relative_error(const float *out, const double *ref, size_t n) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(out[i])) return NAN;
    diff += (out[i] - ref[i]) * (out[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return norm == 0 ? sqrt(diff) : sqrt(diff / norm);
}
static void expect_close(const char *what, const float *out, const double *ref, size_t n) {
  double e = relative_error(out, ref, n);
  checks++;
  int ok = e <= TOLERANCE;
  if (!ok) failures++;
  if (!(e <= worst_error)) worst_error = isnan(e) ? INFINITY : KILN_MAX(worst_error, e);
  printf("%s %-64s rel.err %.3e\n", ok ? "ok  " : "FAIL", what, e);
}

/* ---------------- pointwise math ---------------- */

typedef kiln_vf (*vector_fn)(kiln_vf);
static double gelu_tanh_ref(double x) { return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }
static double gelu_erf_ref(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double sigmoid_ref(double x) { return 1 / (1 + exp(-x)); }
static double silu_ref(double x) { return x * sigmoid_ref(x); }
static kiln_vf f_exp(kiln_vf x) { return kv_exp(x); }
static kiln_vf f_tanh(kiln_vf x) { return kv_tanh(x); }
static kiln_vf f_erf(kiln_vf x) { return kv_erf(x); }
static kiln_vf f_sigmoid(kiln_vf x) { return kv_sigmoid(x); }
static kiln_vf f_gelu_tanh(kiln_vf x) { return kv_gelu_tanh(x); }
static kiln_vf f_gelu_erf(kiln_vf x) { return kv_gelu_erf(x); }
static kiln_vf f_silu(kiln_vf x) { return kv_silu(x); }

/* Max error in units of 2^-23·|ref| (≈ ulps) over a sweep of [lo, hi]; fails above max_ulps.
   With of_input, the unit is 2^-23·max(|ref|, |x|): for GELU, whose 1 + tanh / 1 + erf cancels
   for x << 0 in any fp32 formulation, the error is bounded relative to the input instead. */
static void check_math(const char *name, vector_fn f, double (*ref)(double), double lo, double hi, double max_ulps,
                       int of_input) {
  enum { COUNT = 200003 };
  double worst = 0, worst_x = 0;
  float in[KILN_VLEN], out[KILN_VLEN];
  for (int i = 0; i < COUNT; i += KILN_VLEN) {
    for (int l = 0; l < KILN_VLEN; l++) in[l] = (float)(lo + (hi - lo) * (double)(i + l) / (COUNT - 1));
    kv_storeu(out, f(kv_loadu(in)));
    for (int l = 0; l < KILN_VLEN; l++) {
      double r = ref((double)in[l]);
      if (r == 0) continue;
      double unit = of_input ? fmax(fabs(r), fabs((double)in[l])) : fabs(r);
      double ulps = fabs((double)out[l] - r) / (unit * 0x1p-23);
      if (!(ulps <= worst)) { worst = isnan(ulps) ? INFINITY : ulps; worst_x = in[l]; }
    }
  }
  checks++;
  int ok = worst <= max_ulps;
  if (!ok) failures++;
  printf("%s %-64s max %.2f ulp at x=%.6g\n", ok ? "ok  " : "FAIL", name, worst, worst_x);
}

static void check_exp_limits(void) {
  float in[KILN_VLEN], out[KILN_VLEN];
  for (int l = 0; l < KILN_VLEN; l++) in[l] = l % 2 ? -INFINITY : -100.0f;
  kv_storeu(out, kv_exp(kv_loadu(in)));
  int ok = 1;
  for (int l = 0; l < KILN_VLEN; l++) ok &= out[l] == 0.0f;
  for (int l = 0; l < KILN_VLEN; l++) in[l] = 100.0f;
  kv_storeu(out, kv_exp(kv_loadu(in)));
  for (int l = 0; l < KILN_VLEN; l++) ok &= isinf(out[l]) && out[l] > 0;
  checks++;
  if (!ok) failures++;
  printf("%s %-64s\n", ok ? "ok  " : "FAIL", "exp(-inf) = exp(-100) = 0, exp(100) = +inf");
}

static void test_math(void) {
  check_math("exp on [-87, 88.7]", f_exp, exp, -87.0, 88.7, 4, 0);
  check_math("tanh on [-10, 10]", f_tanh, tanh, -10.0, 10.0, 4, 0);
  check_math("tanh on [-0.01, 0.01]", f_tanh, tanh, -0.01, 0.01, 4, 0);
  check_math("erf on [-5, 5]", f_erf, erf, -5.0, 5.0, 4, 0);
  check_math("erf on [-0.01, 0.01]", f_erf, erf, -0.01, 0.01, 4, 0);
  check_math("sigmoid on [-20, 20]", f_sigmoid, sigmoid_ref, -20.0, 20.0, 4, 0);
  check_math("gelu_tanh on [-10, 10] (ulp of max(|y|, |x|))", f_gelu_tanh, gelu_tanh_ref, -10.0, 10.0, 4, 1);
  check_math("gelu_erf on [-10, 10] (ulp of max(|y|, |x|))", f_gelu_erf, gelu_erf_ref, -10.0, 10.0, 4, 1);
  check_math("silu on [-20, 20]", f_silu, silu_ref, -20.0, 20.0, 4, 0);
  check_exp_limits();
}

/* ---------------- GEMM ---------------- */

static double activation_ref(double x, int activation) {
  switch (activation) {
  case KILN_ACT_GELU_TANH: return gelu_tanh_ref(x);
  case KILN_ACT_GELU_ERF: return gelu_erf_ref(x);
  case KILN_ACT_SILU: return silu_ref(x);
  default: return x;
  }
}

static double epilogue_ref(double acc, kiln_epilogue ep, int row, int col) {
  double v = acc * (ep.alpha == 0 ? 1.0 : ep.alpha);
  if (ep.bias_col) v += ep.bias_col[col];
  if (ep.bias_row) v += ep.bias_row[row];
  v = activation_ref(v, ep.activation);
  if (ep.gate) v *= ep.gate[(ptrdiff_t)(row / ep.gate_rows_per_batch) * ep.gate_ld + col];
  if (ep.residual) v += ep.residual[(ptrdiff_t)row * ep.residual_ld + col];
  return v;
}

enum { EP_NONE, EP_BIAS_GELU_TANH, EP_ALPHA_BIAS_GELU_ERF, EP_SILU_GATE_RESIDUAL, EP_BIAS_ROW_ALL, EP_COUNT };
static const char *epilogue_names[EP_COUNT] = {"plain", "bias+gelu_tanh", "alpha+bias+gelu_erf",
                                               "silu+gate+residual", "alpha+bias_row+bias+gelu_erf+gate+residual"};

/* The epilogue `kind` for an M×N output with `batches` row batches, its operands drawn fresh. */
static kiln_epilogue make_epilogue(int kind, int M, int N, int batches, float **owned) {
  float *bias = random_floats(N, 1), *bias_row = random_floats(M, 1), *gate = random_floats((size_t)batches * N, 1);
  float *residual = random_floats((size_t)M * N, 1);
  owned[0] = bias, owned[1] = bias_row, owned[2] = gate, owned[3] = residual;
  int rows_per_batch = KILN_CEIL_DIV(M, batches);
  switch (kind) {
  case EP_BIAS_GELU_TANH: return KILN_EPILOGUE(.bias_col = bias, .activation = KILN_ACT_GELU_TANH);
  case EP_ALPHA_BIAS_GELU_ERF: return KILN_EPILOGUE(.alpha = 0.125f, .bias_col = bias, .activation = KILN_ACT_GELU_ERF);
  case EP_SILU_GATE_RESIDUAL:
    return KILN_EPILOGUE(.activation = KILN_ACT_SILU, .gate = gate, .gate_ld = N, .gate_rows_per_batch = rows_per_batch,
                         .residual = residual, .residual_ld = N);
  case EP_BIAS_ROW_ALL:
    return KILN_EPILOGUE(.alpha = 0.5f, .bias_row = bias_row, .bias_col = bias, .activation = KILN_ACT_GELU_ERF,
                         .gate = gate, .gate_ld = N, .gate_rows_per_batch = rows_per_batch, .residual = residual,
                         .residual_ld = N);
  default: return KILN_NO_EPILOGUE;
  }
}

static void check_gemm(int M, int N, int K, int transposed_weights, kiln_blocking blk, const char *blk_name,
                       int epilogue_kind, int batches, int n_threads) {
  ptrdiff_t lda = K + 3, ldc = N + 5;
  float *a = random_floats((size_t)M * lda, 1);
  float *b = random_floats((size_t)K * N, 1); /* row-major K×N, or N×K when transposed_weights */
  ptrdiff_t stride_k = transposed_weights ? 1 : N, stride_n = transposed_weights ? K : 1;
  float *packed = alloc_floats(KILN_PACKED_B_FLOATS(K, N));
  kiln_pack_b(b, stride_k, stride_n, K, N, blk.kc, packed);
  float *owned[4];
  kiln_epilogue ep = make_epilogue(epilogue_kind, M, N, batches, owned);
  float *c = alloc_floats((size_t)M * ldc);
  poison(c, (size_t)M * ldc);
  float *scratch = alloc_floats(KILN_GEMM_SCRATCH_FLOATS(blk.mc, blk.kc));
  for (int t = 0; t < n_threads; t++) kiln_gemm(a, lda, packed, c, ldc, M, N, K, blk, ep, scratch, t, n_threads);

  double *ref = malloc(sizeof(double) * M * N);
  float *out = alloc_floats((size_t)M * N);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++) s += (double)a[i * lda + k] * b[k * stride_k + j * stride_n];
      ref[i * N + j] = epilogue_ref(s, ep, i, j);
      out[i * N + j] = c[i * ldc + j];
    }
  char what[160];
  snprintf(what, sizeof what, "gemm %dx%dx%d %s%s %s threads=%d batches=%d", M, N, K, blk_name,
           transposed_weights ? " Wt" : "", epilogue_names[epilogue_kind], n_threads, batches);
  expect_close(what, out, ref, (size_t)M * N);
  free(a), free(b), free(packed), free(c), free(scratch), free(ref), free(out);
  for (int i = 0; i < 4; i++) free(owned[i]);
}

static kiln_blocking default_blocking(void) {
  return KILN_BLOCKING(KILN_ROUND_UP(144, KILN_MR), 256, KILN_ROUND_UP(4096, KILN_NR));
}
/* Small blocks so that every loop of the macro-kernel runs several times with tails. */
static kiln_blocking tiny_blocking(void) { return KILN_BLOCKING(2 * KILN_MR, 37, 2 * KILN_NR); }

static void test_gemm(void) {
  kiln_blocking big = default_blocking(), tiny = tiny_blocking();
  static const int shapes[][3] = {{1, 1, 1}, {13, 37, 29}, {97, 61, 53}, {7, 211, 17}, {131, 67, 300}, {3, 5, 257}};
  for (int s = 0; s < 6; s++) {
    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    check_gemm(M, N, K, 0, big, "blk=default", EP_NONE, 1, 1);
    check_gemm(M, N, K, 1, tiny, "blk=tiny", EP_NONE, 1, 3);
    for (int e = 1; e < EP_COUNT; e++) check_gemm(M, N, K, s % 2, s % 2 ? tiny : big, s % 2 ? "blk=tiny" : "blk=default", e, s % 2 ? 3 : 1, 2);
  }
}

/* ---------------- attention ---------------- */

static void check_attention(int B, int H, int Sq, int Skv, int D, int bhsd_layout, int with_mask, int n_threads) {
  /* [B, S, H, D] or [B, H, S, D] */
  kiln_strides3 qs = bhsd_layout ? KILN_STRIDES((ptrdiff_t)H * Sq * D, (ptrdiff_t)Sq * D, D)
                                 : KILN_STRIDES((ptrdiff_t)Sq * H * D, D, (ptrdiff_t)H * D);
  kiln_strides3 kvs = bhsd_layout ? KILN_STRIDES((ptrdiff_t)H * Skv * D, (ptrdiff_t)Skv * D, D)
                                  : KILN_STRIDES((ptrdiff_t)Skv * H * D, D, (ptrdiff_t)H * D);
  size_t nq = (size_t)B * H * Sq * D, nkv = (size_t)B * H * Skv * D;
  float *q = random_floats(nq, 1), *k = random_floats(nkv, 1), *v = random_floats(nkv, 1), *o = alloc_floats(nq);
  /* mask [B, 1, Sq, Skv] broadcast over heads, a few keys masked out with -inf */
  float *mask = with_mask ? random_floats((size_t)B * Sq * Skv, 2) : 0;
  if (mask)
    for (size_t i = 0; i < (size_t)B * Sq * Skv; i++)
      if (rand_uniform() > 0.8 && i % Skv != 0) mask[i] = -INFINITY;
  kiln_strides3 ms = KILN_STRIDES((ptrdiff_t)Sq * Skv, 0, Skv);
  float scale = 1.0f / sqrtf((float)D);
  poison(o, nq);
  float *scratch = alloc_floats(KILN_ATTENTION_SCRATCH_FLOATS(D, Skv));
  for (int t = 0; t < n_threads; t++)
    kiln_attention(q, qs, k, kvs, v, kvs, o, qs, mask, ms, B, H, Sq, Skv, D, scale, scratch, t, n_threads);

  double *ref = malloc(sizeof(double) * nq), *s = malloc(sizeof(double) * Skv);
  float *out = alloc_floats(nq);
  size_t idx = 0;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      for (int i = 0; i < Sq; i++) {
        const float *qi = q + b * qs.batch + h * qs.head + i * qs.row;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < Skv; j++) {
          const float *kj = k + b * kvs.batch + h * kvs.head + j * kvs.row;
          double dot = 0;
          for (int d = 0; d < D; d++) dot += (double)qi[d] * kj[d];
          s[j] = dot * scale + (mask ? mask[(size_t)b * Sq * Skv + (size_t)i * Skv + j] : 0);
          mx = fmax(mx, s[j]);
        }
        for (int j = 0; j < Skv; j++) sum += (s[j] = exp(s[j] - mx));
        float *oi = o + b * qs.batch + h * qs.head + i * qs.row;
        for (int d = 0; d < D; d++) {
          double acc = 0;
          for (int j = 0; j < Skv; j++) acc += s[j] * v[b * kvs.batch + h * kvs.head + j * kvs.row + d];
          ref[idx] = acc / sum;
          out[idx++] = oi[d];
        }
      }
  char what[160];
  snprintf(what, sizeof what, "attention B=%d H=%d Sq=%d Skv=%d D=%d %s%s threads=%d", B, H, Sq, Skv, D,
           bhsd_layout ? "BHSD" : "BSHD", with_mask ? " mask" : "", n_threads);
  expect_close(what, out, ref, nq);
  free(q), free(k), free(v), free(o), free(mask), free(scratch), free(ref), free(s), free(out);
}

static void test_attention(void) {
  static const int seqs[] = {1, 7, 131};
  static const int dims[] = {64, 72, 128, 13};
  for (int si = 0; si < 3; si++)
    for (int di = 0; di < 4; di++) {
      int S = seqs[si], D = dims[di];
      check_attention(1, 2, S, S, D, di % 2, 0, 1);
      check_attention(3, 2, S, S, D, (di + 1) % 2, si != 0, 3);
    }
  check_attention(3, 3, 7, 131, 72, 0, 1, 2);
  check_attention(1, 1, 131, 7, 64, 1, 0, 4);
}

/* ---------------- row norm, group norm ---------------- */

static void check_rownorm(int rows, int D, int kind, int affine, int modulate, int batches, int n_threads) {
  ptrdiff_t ldx = D + 1, ldy = D + 2;
  float *x = random_floats((size_t)rows * ldx, 3), *y = alloc_floats((size_t)rows * ldy);
  for (size_t i = 0; i < (size_t)rows * ldx; i++) x[i] += 0.5f; /* a nonzero mean */
  float *w = affine ? random_floats(D, 1) : 0, *bias = affine ? random_floats(D, 1) : 0;
  float *sc = modulate ? random_floats((size_t)batches * D, 1) : 0, *sh = modulate ? random_floats((size_t)batches * D, 1) : 0;
  int rpb = KILN_CEIL_DIV(rows, batches);
  float eps = 1e-6f;
  poison(y, (size_t)rows * ldy);
  for (int t = 0; t < n_threads; t++)
    kiln_rownorm(x, ldx, y, ldy, rows, D, kind, eps, w, bias, sc, sh, D, rpb, t, n_threads);
  double *ref = malloc(sizeof(double) * rows * D);
  float *out = alloc_floats((size_t)rows * D);
  for (int r = 0; r < rows; r++) {
    double mean = 0, var = 0;
    if (kind == KILN_NORM_LAYER) {
      for (int d = 0; d < D; d++) mean += x[r * ldx + d];
      mean /= D;
    }
    for (int d = 0; d < D; d++) var += (x[r * ldx + d] - mean) * (x[r * ldx + d] - mean);
    double rstd = 1 / sqrt(var / D + eps);
    for (int d = 0; d < D; d++) {
      double t = (x[r * ldx + d] - mean) * rstd;
      if (affine) t = t * w[d] + bias[d];
      if (modulate) t = t * (1 + sc[(r / rpb) * D + d]) + sh[(r / rpb) * D + d];
      ref[r * D + d] = t;
      out[r * D + d] = y[r * ldy + d];
    }
  }
  char what[160];
  snprintf(what, sizeof what, "%s rows=%d D=%d%s%s batches=%d threads=%d", kind == KILN_NORM_LAYER ? "layernorm" : "rmsnorm",
           rows, D, affine ? " affine" : "", modulate ? " modulate" : "", batches, n_threads);
  expect_close(what, out, ref, (size_t)rows * D);
  free(x), free(y), free(w), free(bias), free(sc), free(sh), free(ref), free(out);
}

static void check_groupnorm(int N, int C, int HW, int G, int activation, int n_threads) {
  size_t n = (size_t)N * C * HW;
  float *x = random_floats(n, 2), *y = alloc_floats(n), *w = random_floats(C, 1), *b = random_floats(C, 1);
  float eps = 1e-6f;
  poison(y, n);
  for (int t = 0; t < n_threads; t++) kiln_groupnorm(x, y, N, C, HW, G, eps, w, b, activation, t, n_threads);
  double *ref = malloc(sizeof(double) * n);
  int cg = C / G;
  for (int i = 0; i < N; i++)
    for (int g = 0; g < G; g++) {
      size_t base = ((size_t)i * C + (size_t)g * cg) * HW;
      double mean = 0, var = 0;
      for (size_t e = 0; e < (size_t)cg * HW; e++) mean += x[base + e];
      mean /= cg * HW;
      for (size_t e = 0; e < (size_t)cg * HW; e++) var += (x[base + e] - mean) * (x[base + e] - mean);
      double rstd = 1 / sqrt(var / (cg * HW) + eps);
      for (size_t e = 0; e < (size_t)cg * HW; e++) {
        int ch = g * cg + (int)(e / HW);
        ref[base + e] = activation_ref((x[base + e] - mean) * rstd * w[ch] + b[ch], activation);
      }
    }
  char what[160];
  snprintf(what, sizeof what, "groupnorm N=%d C=%d HW=%d G=%d%s threads=%d", N, C, HW, G,
           activation == KILN_ACT_SILU ? " silu" : "", n_threads);
  expect_close(what, y, ref, n);
  free(x), free(y), free(w), free(b), free(ref);
}

static void test_norms(void) {
  static const int dims[] = {1, 13, 72, 257, 1152};
  for (int i = 0; i < 5; i++) {
    check_rownorm(7, dims[i], KILN_NORM_LAYER, 0, 0, 1, 1);
    check_rownorm(15, dims[i], KILN_NORM_LAYER, 1, 1, 3, 4);
    check_rownorm(15, dims[i], KILN_NORM_RMS, 1, 0, 1, 2);
    check_rownorm(7, dims[i], KILN_NORM_RMS, 0, 1, 3, 3);
  }
  check_groupnorm(1, 12, 35, 4, KILN_ACT_NONE, 1);
  check_groupnorm(3, 12, 35, 3, KILN_ACT_SILU, 4);
  check_groupnorm(2, 64, 17, 32, KILN_ACT_SILU, 3);
}

/* ---------------- conv2d ---------------- */

static void check_conv2d(int N, int IC, int H, int W, int OC, int KH, int KW, int stride, int pad, int epilogue,
                         kiln_blocking blk, int n_threads) {
  int OH = (H + 2 * pad - KH) / stride + 1, OW = (W + 2 * pad - KW) / stride + 1;
  size_t n_out = (size_t)N * OC * OH * OW;
  float *x = random_floats((size_t)N * IC * H * W, 1), *w = random_floats((size_t)OC * IC * KH * KW, 1);
  float *bias = random_floats(OC, 1), *residual = random_floats(n_out, 1), *y = alloc_floats(n_out);
  float *packed = alloc_floats(KILN_CONV_PACKED_FLOATS(OC, IC, KH, KW));
  kiln_conv2d_pack_weights(w, OC, IC, KH, KW, blk.kc, packed);
  kiln_epilogue ep = epilogue ? KILN_EPILOGUE(.bias_row = bias, .activation = KILN_ACT_SILU, .residual = residual,
                                              .residual_ld = OH * OW)
                              : KILN_NO_EPILOGUE;
  float *scratch = alloc_floats(KILN_CONV_SCRATCH_FLOATS(blk.nc, blk.kc));
  poison(y, n_out);
  for (int t = 0; t < n_threads; t++)
    kiln_conv2d(x, packed, y, N, IC, H, W, OC, KH, KW, stride, pad, blk, ep, scratch, t, n_threads);
  double *ref = malloc(sizeof(double) * n_out);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          double s = 0;
          for (int c = 0; c < IC; c++)
            for (int kh = 0; kh < KH; kh++)
              for (int kw = 0; kw < KW; kw++) {
                int ih = oh * stride + kh - pad, iw = ow * stride + kw - pad;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += (double)x[(((size_t)n * IC + c) * H + ih) * W + iw] * w[(((size_t)o * IC + c) * KH + kh) * KW + kw];
              }
          size_t i = (((size_t)n * OC + o) * OH + oh) * OW + ow;
          if (epilogue) s = silu_ref(s + bias[o]) + residual[i];
          ref[i] = s;
        }
  char what[160];
  snprintf(what, sizeof what, "conv2d N=%d %dx%dx%d -> OC=%d k=%dx%d s=%d p=%d%s threads=%d", N, IC, H, W, OC, KH, KW,
           stride, pad, epilogue ? " bias+silu+residual" : "", n_threads);
  expect_close(what, y, ref, n_out);
  free(x), free(w), free(bias), free(residual), free(y), free(packed), free(scratch), free(ref);
}

static void test_conv2d(void) {
  kiln_blocking big = default_blocking(), tiny = tiny_blocking();
  check_conv2d(1, 5, 11, 9, 7, 3, 3, 1, 1, 0, big, 1);
  check_conv2d(3, 5, 11, 9, 17, 3, 3, 1, 1, 1, tiny, 3);
  check_conv2d(1, 6, 13, 10, 11, 3, 3, 2, 1, 1, tiny, 2);
  check_conv2d(3, 23, 7, 5, 19, 1, 1, 1, 0, 1, big, 2);
  check_conv2d(1, 32, 16, 16, 29, 3, 3, 1, 1, 1, big, 3);
  check_conv2d(2, 3, 5, 5, 4, 3, 3, 1, 0, 0, tiny, 1);
  /* The packing copies runs of one output row: a row wider than a panel (runs cross rows at
   * every panel), W = 1 (one column per run, all but one of a 3-wide kernel in the padding),
   * one row (H = 1), stride 2 and 3 with odd sizes and padding 2 (the first columns of a run
   * start left of the image), a 1×1 kernel on a width no panel divides, and a kernel as wide
   * as the padded input. */
  check_conv2d(1, 3, 5, KILN_NR + 7, 5, 3, 3, 1, 1, 1, tiny, 2);
  check_conv2d(2, 4, 9, 1, 6, 3, 3, 1, 1, 1, tiny, 3);
  check_conv2d(1, 5, 1, 29, 3, 3, 3, 1, 1, 0, big, 1);
  check_conv2d(1, 3, 15, 13, 9, 3, 3, 2, 2, 1, tiny, 2);
  check_conv2d(2, 4, 17, 19, 5, 5, 5, 3, 2, 1, big, 3);
  check_conv2d(1, 7, 9, 2 * KILN_NR + 3, 10, 1, 1, 1, 0, 0, tiny, 2);
  check_conv2d(1, 2, 4, 3, 3, 4, 5, 1, 1, 1, tiny, 1);
}

/* Nearest 2× upsampling then a 3×3 convolution with padding 1, against the two done one after
 * the other in double precision. */
static void check_conv2d_upsample2x(int N, int IC, int H, int W, int OC, int epilogue, kiln_blocking blk,
                                    int n_threads) {
  int OH = 2 * H, OW = 2 * W;
  size_t n_out = (size_t)N * OC * OH * OW;
  float *x = random_floats((size_t)N * IC * H * W, 1), *w = random_floats((size_t)OC * IC * 9, 1);
  float *bias = random_floats(OC, 1), *y = alloc_floats(n_out);
  float *packed = alloc_floats(KILN_CONV_UPSAMPLE2X_PACKED_FLOATS(OC, IC));
  kiln_conv2d_upsample2x_pack_weights(w, OC, IC, blk.kc, packed);
  kiln_epilogue ep = epilogue ? KILN_EPILOGUE(.bias_row = bias, .activation = KILN_ACT_SILU) : KILN_NO_EPILOGUE;
  float *scratch = alloc_floats(KILN_CONV_UPSAMPLE2X_SCRATCH_FLOATS(OC, blk.nc, blk.kc));
  poison(y, n_out);
  for (int t = 0; t < n_threads; t++)
    kiln_conv2d_upsample2x(x, packed, y, N, IC, H, W, OC, blk, ep, scratch, t, n_threads);
  double *ref = malloc(sizeof(double) * n_out);
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          double s = 0;
          for (int c = 0; c < IC; c++)
            for (int kh = 0; kh < 3; kh++)
              for (int kw = 0; kw < 3; kw++) {
                int uh = oh + kh - 1, uw = ow + kw - 1; /* in the upsampled image */
                if (uh < 0 || uh >= OH || uw < 0 || uw >= OW) continue;
                s += (double)x[(((size_t)n * IC + c) * H + uh / 2) * W + uw / 2] * w[(((size_t)o * IC + c) * 3 + kh) * 3 + kw];
              }
          if (epilogue) s = silu_ref(s + bias[o]);
          ref[(((size_t)n * OC + o) * OH + oh) * OW + ow] = s;
        }
  char what[160];
  snprintf(what, sizeof what, "conv2d upsample2x N=%d %dx%dx%d -> OC=%d%s threads=%d", N, IC, H, W, OC,
           epilogue ? " bias+silu" : "", n_threads);
  expect_close(what, y, ref, n_out);
  free(x), free(w), free(bias), free(y), free(packed), free(scratch), free(ref);
}

static void test_conv2d_upsample2x(void) {
  kiln_blocking big = default_blocking(), tiny = tiny_blocking();
  check_conv2d_upsample2x(1, 5, 7, 9, 7, 0, big, 1);
  check_conv2d_upsample2x(2, 6, 5, KILN_NR + 5, 11, 1, tiny, 3);
  check_conv2d_upsample2x(1, 3, 1, 1, 3, 1, tiny, 2);
  check_conv2d_upsample2x(1, 4, 9, 1, 9, 0, tiny, 2);
  check_conv2d_upsample2x(2, 19, 6, 6, 17, 1, big, 2);
}

/* ---------------- bench ---------------- */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The FMA ceiling of this core as the kernels can reach it: independent register-only chains,
   as many as the profile's register file holds (16 zmm of 32; 12 ymm of 16; 6 two-xmm structs). */
#if KILN_VLEN == 16 || defined(__aarch64__)
#define FMA_CHAINS 16
#elif defined(__AVX2__)
#define FMA_CHAINS 12
#else
#define FMA_CHAINS 6
#endif
static double measure_fma_peak(void) {
  kiln_vf acc[FMA_CHAINS], x = kv_set1(1.0000001f), y = kv_set1(0.999999f);
  for (int i = 0; i < FMA_CHAINS; i++) acc[i] = kv_set1((float)i);
  const long rounds = 2000000;
  double dt = INFINITY; /* best of 7: the machine is shared */
  for (int trial = 0; trial < 7; trial++) {
    double t0 = now_seconds();
    for (long r = 0; r < rounds; r++) {
#pragma GCC unroll 16
      for (int i = 0; i < FMA_CHAINS; i++) acc[i] = kv_fma(acc[i], x, y);
    }
    dt = fmin(dt, now_seconds() - t0);
  }
  float sink = 0;
  for (int i = 0; i < FMA_CHAINS; i++) sink += kv_hsum(acc[i]);
  if (sink == 1.0f) printf(" ");
  return 2.0 * FMA_CHAINS * KILN_VLEN * rounds / dt * 1e-9;
}

static void bench_gemm(kiln_blocking blk) {
  static const int shapes[][2] = {{1152, 1152}, {4608, 1152}, {1152, 4608}}; /* N, K */
  const int M = 256;
  double peak = measure_fma_peak();
  printf("bench: register-only FMA peak of this core %.1f GFLOP/s\n", peak);
  printf("bench: packed GEMM, 1 thread, MR=%d NR=%d MC=%d KC=%d NC=%d\n", KILN_MR, KILN_NR, blk.mc, blk.kc, blk.nc);
  for (int s = 0; s < 3; s++) {
    int N = shapes[s][0], K = shapes[s][1];
    float *a = random_floats((size_t)M * K, 1), *b = random_floats((size_t)K * N, 1), *c = alloc_floats((size_t)M * N);
    float *packed = alloc_floats(KILN_PACKED_B_FLOATS(K, N)), *scratch = alloc_floats(KILN_GEMM_SCRATCH_FLOATS(blk.mc, blk.kc));
    kiln_pack_b(b, N, 1, K, N, blk.kc, packed);
    double flops = 2.0 * M * N * K, best = INFINITY, total = 0;
    int reps = 0;
    kiln_gemm(a, K, packed, c, N, M, N, K, blk, KILN_NO_EPILOGUE, scratch, 0, 1); /* warm-up */
    double start = now_seconds();
    while (reps < 5 || (now_seconds() - start < 1.0 && reps < 200)) {
      double t0 = now_seconds();
      kiln_gemm(a, K, packed, c, N, M, N, K, blk, KILN_NO_EPILOGUE, scratch, 0, 1);
      double dt = now_seconds() - t0;
      best = fmin(best, dt);
      total += dt;
      reps++;
    }
    printf("  M=%d N=%d K=%d: best %.1f GFLOP/s (%.0f%% of the FMA peak), mean %.1f GFLOP/s over %d runs\n", M, N, K,
           flops / best * 1e-9, 100 * flops / best * 1e-9 / peak, flops / (total / reps) * 1e-9, reps);
    free(a), free(b), free(c), free(packed), free(scratch);
  }
}

/* Fused attention, one thread, DiT-XL/2-like heads: FLOPs counted as 4·B·H·S²·D (QKᵀ and PV). */
static void bench_attention(void) {
  static const int shapes[][3] = {{256, 72, 16}, {1024, 64, 16}, {4096, 128, 2}}; /* S, D, H */
  for (int s = 0; s < 3; s++) {
    int S = shapes[s][0], D = shapes[s][1], H = shapes[s][2];
    kiln_strides3 st = KILN_STRIDES((ptrdiff_t)S * H * D, D, (ptrdiff_t)H * D);
    size_t n = (size_t)S * H * D;
    float *q = random_floats(n, 1), *k = random_floats(n, 1), *v = random_floats(n, 1), *o = alloc_floats(n);
    float *scratch = alloc_floats(KILN_ATTENTION_SCRATCH_FLOATS(D, S));
    double flops = 4.0 * H * (double)S * S * D, best = INFINITY;
    for (int r = 0; r < 3; r++) {
      double t0 = now_seconds();
      kiln_attention(q, st, k, st, v, st, o, st, 0, KILN_STRIDES(0, 0, 0), 1, H, S, S, D, 0.125f, scratch, 0, 1);
      best = fmin(best, now_seconds() - t0);
    }
    printf("  attention B=1 H=%d S=%d D=%d: best %.1f GFLOP/s (%.2f ms)\n", H, S, D, flops / best * 1e-9, best * 1e3);
    free(q), free(k), free(v), free(o), free(scratch);
  }
}

/* Conv2d as implicit GEMM, one thread, SD-VAE-decoder-like layers. */
static void bench_conv2d(kiln_blocking blk) {
  static const int shapes[][4] = {{512, 32, 3, 1}, {256, 64, 3, 1}, {512, 32, 1, 0}}; /* C, H=W, k, pad */
  for (int s = 0; s < 3; s++) {
    int C = shapes[s][0], HW = shapes[s][1], KS = shapes[s][2], pad = shapes[s][3];
    float *x = random_floats((size_t)C * HW * HW, 1), *w = random_floats((size_t)C * C * KS * KS, 1);
    float *y = alloc_floats((size_t)C * HW * HW), *packed = alloc_floats(KILN_CONV_PACKED_FLOATS(C, C, KS, KS));
    float *scratch = alloc_floats(KILN_CONV_SCRATCH_FLOATS(blk.nc, blk.kc));
    kiln_conv2d_pack_weights(w, C, C, KS, KS, blk.kc, packed);
    double flops = 2.0 * C * C * KS * KS * HW * HW, best = INFINITY;
    for (int r = 0; r < 3; r++) {
      double t0 = now_seconds();
      kiln_conv2d(x, packed, y, 1, C, HW, HW, C, KS, KS, 1, pad, blk, KILN_NO_EPILOGUE, scratch, 0, 1);
      best = fmin(best, now_seconds() - t0);
    }
    printf("  conv2d %dx%dx%d -> %d k=%dx%d: best %.1f GFLOP/s (%.2f ms)\n", C, HW, HW, C, KS, KS, flops / best * 1e-9,
           best * 1e3);
    free(x), free(w), free(y), free(packed), free(scratch);
  }
}

int main(int argc, char **argv) {
  uint64_t seed = (uint64_t)time(0);
  if (argc >= 2 && strcmp(argv[1], "--bench") == 0) {
    kiln_blocking blk = default_blocking();
    if (argc == 5) blk = KILN_BLOCKING(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    if (blk.mc % KILN_MR || blk.nc % KILN_NR || blk.kc <= 0) {
      fprintf(stderr, "--bench MC KC NC: MC must be a multiple of %d, NC of %d, KC positive\n", KILN_MR, KILN_NR);
      return 2;
    }
    rng_state = seed;
    bench_gemm(blk);
    printf("bench: fused attention, 1 thread, BQ=%d BK=%d\n", KILN_ATT_BQ, KILN_ATT_BK);
    bench_attention();
    printf("bench: conv2d (implicit GEMM), 1 thread, same blocking\n");
    bench_conv2d(blk);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "--seed") == 0) seed = strtoull(argv[2], 0, 10);
  rng_state = seed;
  printf("kernel tests: MR=%d NR=%d VLEN=%d seed=%llu\n", KILN_MR, KILN_NR, KILN_VLEN, (unsigned long long)seed);
  test_math();
  test_gemm();
  test_attention();
  test_norms();
  test_conv2d();
  test_conv2d_upsample2x();
  printf("%d checks, %d failed, worst relative error %.3e (seed %llu)\n", checks, failures, worst_error,
         (unsigned long long)seed);
  return failures ? 1 : 0;
}
