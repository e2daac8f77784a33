/*
 * kiln_abi.h — the calling convention shared by every Kiln kernel template.
 *
 * INSTANTIATION MODEL
 *   Templates are headers of `static inline` functions. A generated translation unit includes
 *   exactly one profile's headers, in this order:
 *
 *       #include "<profile>/vector.h"       vector type + primitives + common/vector_math.h
 *       #include "<profile>/microkernel.h"  KILN_MR, KILN_NR, kiln_microkernel()
 *       #include "common/gemm_macro.h"      packing, macro-kernel, epilogue
 *       #include "common/attention.h"       fused attention
 *       #include "common/rownorm.h"         layer/RMS/group norm + modulation
 *       #include "common/conv2d.h"          conv2d as implicit GEMM
 *
 *   and defines one small function per kernel instance that calls a template entry point with
 *   every shape, stride, blocking constant and epilogue field written as a literal:
 *
 *       static void k3_fc1(const float *x, const float *w_packed, const float *b, float *y,
 *                          float *scratch, int tid, int nth) {
 *         kiln_gemm(x, 1152, w_packed, y, 4608, 256, 4608, 1152,
 *                   KILN_BLOCKING(112, 256, 4608),
 *                   KILN_EPILOGUE(.activation = KILN_ACT_GELU_TANH, .bias_col = b),
 *                   scratch, tid, nth);
 *       }
 *
 *   Entry points are KILN_INLINE (static inline, always_inline), so each instance is specialized
 *   by constant propagation: loop bounds become constants, unused epilogue branches disappear.
 *   Include paths: -I Templates -I Templates/<profile>; compiler flags come from the profile.
 *
 * ENTRY POINTS (the header of each family says the layouts)
 *   load time:  kiln_pack_b(b, stride_k, stride_n, K, N, kc, packed)
 *               kiln_conv2d_pack_weights(w_oihw, OC, IC, KH, KW, kc, packed)
 *               kiln_conv2d_upsample2x_pack_weights(w_oi33, OC, IC, kc, packed)
 *   run time:   kiln_gemm(a, lda, b_packed, c, ldc, M, N, K, blocking, epilogue, scratch, tid, nth)
 *               kiln_attention(q, q_strides, k, k_strides, v, v_strides, o, o_strides,
 *                              mask, mask_strides, B, H, Sq, Skv, D, scale, scratch, tid, nth)
 *               kiln_rownorm(x, ldx, y, ldy, rows, D, KILN_NORM_LAYER|KILN_NORM_RMS, eps,
 *                            weight, bias, mod_scale, mod_shift, mod_ld, rows_per_batch, tid, nth)
 *               kiln_groupnorm(x, y, N, C, HW, groups, eps, weight, bias, activation, tid, nth)
 *               kiln_conv2d(x, w_packed, y, N, IC, H, W, OC, KH, KW, stride, pad, blocking,
 *                           epilogue, scratch, tid, nth)
 *               kiln_conv2d_upsample2x(x, w_packed, y, N, IC, H, W, OC, blocking, epilogue,
 *                                      scratch, tid, nth)    3×3 conv of x upsampled 2× (nearest)
 *   sizes:      KILN_PACKED_B_FLOATS(K, N)   KILN_GEMM_SCRATCH_FLOATS(mc, kc)
 *               KILN_CONV_PACKED_FLOATS(OC, IC, KH, KW)   KILN_CONV_SCRATCH_FLOATS(nc, kc)
 *               KILN_CONV_UPSAMPLE2X_PACKED_FLOATS(OC, IC)   KILN_CONV_UPSAMPLE2X_SCRATCH_FLOATS(OC, nc, kc)
 *               KILN_ATTENTION_SCRATCH_FLOATS(D, Skv)
 *
 * CONVENTIONS (every family)
 *   - Element type is fp32. Matrices are row-major; `ld*` is the distance in elements between
 *     consecutive rows. Strides are ptrdiff_t, sizes are int.
 *   - Threads: every entry point takes (thread_id, n_threads), 0 <= thread_id < n_threads, and
 *     computes only its own share of the output (a contiguous range of rows, row blocks or
 *     column panels, decided inside the kernel). No kernel synchronizes; the schedule puts a
 *     barrier between dependent kernels. Calling every thread_id once computes the whole output.
 *   - Scratch: kernels that pack on the fly take `float *scratch`, private to the calling
 *     thread, 64-byte aligned, of at least the size the family's *_SCRATCH_FLOATS macro gives.
 *   - Packed weights: B of a GEMM and the weights of a conv are packed once at load time by
 *     kiln_pack_b / kiln_conv2d_pack_weights into a buffer of *_PACKED_FLOATS floats, 64-byte
 *     aligned. The packed layout depends on the profile's MR/NR and on KC, so a packed buffer
 *     is only valid for the profile and blocking it was packed with.
 *   - Outputs may be read back while a kernel runs (a GEMM adds its KC blocks in place), so an
 *     output never aliases an input, the residual included.
 *
 * VECTOR PRIMITIVES (every profile's vector.h; kiln_vf holds KILN_VLEN fp32 lanes, and the
 * profile has KILN_VREGS registers of that size)
 *   kv_zero() kv_set1(x)                     kv_load(p) / kv_store(p, v): aligned to the vector
 *   kv_loadu(p) kv_storeu(p, v)              kv_load_tail(p, n) / kv_store_tail(p, v, n): lanes < n
 *   kv_add kv_sub kv_mul kv_div kv_max kv_min kv_abs kv_sqrt kv_fma(a, b, c) = a·b + c
 *   kv_hsum(v) kv_hmax(v): across lanes      kv_round(v): nearest integer   kv_pow2i(n): 2^n
 *   kv_select_lt(a, b, x, y) = a < b ? x : y             kv_copysign(mag, sign)
 *   common/vector_math.h adds kv_exp kv_tanh kv_erf kv_sigmoid kv_gelu_tanh kv_gelu_erf kv_silu
 *   and kv_activation(v, KILN_ACT_*); common/epilogue.h adds kiln_load_n / kiln_store_n, which
 *   pick the full or the tail form. Generated pointwise loops use only these names.
 *
 * EPILOGUE (applied while the tile is still in registers, in this order)
 *       v = alpha * acc
 *       v += bias_col[col]                         (bias per output column; GEMM)
 *       v += bias_row[row]                         (bias per output row; conv2d: per channel)
 *       v = activation(v)                          (none, GELU tanh, GELU erf, SiLU)
 *       v *= gate[(row / gate_rows_per_batch) * gate_ld + col]   (adaLN gate per batch)
 *       v += residual[row * residual_ld + col]
 *   Pointers left NULL (and alpha left 0, read as 1) switch a step off.
 */
#ifndef KILN_ABI_H
#define KILN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define KILN_INLINE static inline __attribute__((always_inline))

/* Translation units. A module is one C file; built whole (KILN_PART undefined) every kernel
 * function is static. To compile on several cores at once, the module cache builds it as
 * KILN_PART = 0, 1, … side by side and links the objects: each kernel function is then defined
 * in the part the module assigned it (KILN_IN_PART) and declared, hidden, in the others; part 0
 * holds the exports and the schedule. */
#ifdef KILN_PART
#define KILN_KERNEL_FN __attribute__((visibility("hidden")))
#define KILN_IN_PART(p) ((p) == KILN_PART)
#else
#define KILN_KERNEL_FN static
#define KILN_IN_PART(p) 1
#endif
#define KILN_ALIGN 64
#define KILN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KILN_MAX(a, b) ((a) > (b) ? (a) : (b))
#define KILN_CEIL_DIV(a, b) (((a) + (b) - 1) / (b))
#define KILN_ROUND_UP(a, b) (KILN_CEIL_DIV(a, b) * (b))

enum {
  KILN_ACT_NONE = 0,
  KILN_ACT_GELU_TANH = 1,
  KILN_ACT_GELU_ERF = 2,
  KILN_ACT_SILU = 3,
};

typedef struct {
  float alpha;                 /* 0 means 1 */
  const float *bias_col;
  const float *bias_row;
  int activation;              /* KILN_ACT_* */
  const float *gate;
  ptrdiff_t gate_ld;
  int gate_rows_per_batch;
  const float *residual;
  ptrdiff_t residual_ld;
} kiln_epilogue;

/* Designated initializers: KILN_EPILOGUE(.bias_col = b, .activation = KILN_ACT_SILU). */
#define KILN_EPILOGUE(...) ((kiln_epilogue){__VA_ARGS__})
#define KILN_NO_EPILOGUE ((kiln_epilogue){0})

/* Cache blocking of the GEMM and conv2d macro-kernels: MC a multiple of KILN_MR, NC a multiple
 * of KILN_NR, KC any positive depth (B / conv weights must be packed with the same KC). */
typedef struct {
  int mc, kc, nc;
} kiln_blocking;
#define KILN_BLOCKING(mc_, kc_, nc_) ((kiln_blocking){.mc = (mc_), .kc = (kc_), .nc = (nc_)})

/* The contiguous share [*begin, *end) of `count` units (rows, blocks, panels) for one thread. */
KILN_INLINE void kiln_thread_range(int count, int thread_id, int n_threads, int *begin, int *end) {
  int base = count / n_threads, extra = count % n_threads;
  *begin = thread_id * base + KILN_MIN(thread_id, extra);
  *end = *begin + base + (thread_id < extra ? 1 : 0);
}

#endif
