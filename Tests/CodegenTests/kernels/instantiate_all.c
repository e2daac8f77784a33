/*
 * instantiate_all.c — one instance of every template entry point, shaped like what the emitter
 * writes (every constant a literal). Compiled with -c for profiles this host cannot run (NEON),
 * so that their headers are checked down to code generation. Needs no C library headers:
 *   clang --target=aarch64-linux-gnu -ffreestanding -O2 -I Templates -I Templates/aarch64-neon -c
 */
#include "vector.h"
#include "microkernel.h"
#include "common/gemm_macro.h"
#include "common/attention.h"
#include "common/rownorm.h"
#include "common/conv2d.h"

void kiln_instance_pack_fc1(const float *w, float *packed) { kiln_pack_b(w, 1, 1152, 1152, 4608, 256, packed); }

void kiln_instance_fc1(const float *x, const float *w_packed, const float *bias, float *y, float *scratch, int tid,
                       int nth) {
  kiln_gemm(x, 1152, w_packed, y, 4608, 257, 4608, 1152, KILN_BLOCKING(KILN_ROUND_UP(144, KILN_MR), 256, 4608),
            KILN_EPILOGUE(.bias_col = bias, .activation = KILN_ACT_GELU_TANH), scratch, tid, nth);
}

void kiln_instance_proj(const float *x, const float *w_packed, const float *bias, const float *gate,
                        const float *residual, float *y, float *scratch, int tid, int nth) {
  kiln_gemm(x, 1152, w_packed, y, 1152, 512, 1152, 1152, KILN_BLOCKING(KILN_ROUND_UP(144, KILN_MR), 256, 1152),
            KILN_EPILOGUE(.bias_col = bias, .gate = gate, .gate_ld = 6912, .gate_rows_per_batch = 256,
                          .residual = residual, .residual_ld = 1152),
            scratch, tid, nth);
}

void kiln_instance_attention(const float *q, const float *k, const float *v, float *o, float *scratch, int tid,
                             int nth) {
  kiln_attention(q, KILN_STRIDES(256 * 3456, 72, 3456), k, KILN_STRIDES(256 * 3456, 72, 3456), v,
                 KILN_STRIDES(256 * 3456, 72, 3456), o, KILN_STRIDES(256 * 1152, 72, 1152), 0, KILN_STRIDES(0, 0, 0),
                 2, 16, 256, 256, 72, 0.11785113f, scratch, tid, nth);
}

void kiln_instance_norm_modulate(const float *x, const float *scale, const float *shift, float *y, int tid, int nth) {
  kiln_rownorm(x, 1152, y, 1152, 512, 1152, KILN_NORM_LAYER, 1e-6f, 0, 0, scale, shift, 6912, 256, tid, nth);
}

void kiln_instance_groupnorm_silu(const float *x, const float *w, const float *b, float *y, int tid, int nth) {
  kiln_groupnorm(x, y, 1, 512, 32 * 32, 32, 1e-6f, w, b, KILN_ACT_SILU, tid, nth);
}

void kiln_instance_conv3x3(const float *x, const float *w_packed, const float *bias, float *y, float *scratch, int tid,
                           int nth) {
  kiln_conv2d(x, w_packed, y, 1, 512, 32, 32, 512, 3, 3, 1, 1, KILN_BLOCKING(KILN_ROUND_UP(144, KILN_MR), 256, 1024),
              KILN_EPILOGUE(.bias_row = bias), scratch, tid, nth);
}

void kiln_instance_pointwise_gelu_erf(const float *x, float *y, int n) {
  int i = 0;
  for (; i + KILN_VLEN <= n; i += KILN_VLEN) kv_storeu(y + i, kv_gelu_erf(kv_loadu(x + i)));
  if (i < n) kv_store_tail(y + i, kv_gelu_erf(kv_load_tail(x + i, n - i)), n - i);
}
