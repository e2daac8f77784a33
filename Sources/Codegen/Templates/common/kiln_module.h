/*
 * kiln_module.h — the ABI of an emitted Kiln module (one C translation unit per model, shapes
 * and profile), as the runtime sees it through dlsym. Kernel templates follow kiln_abi.h; this
 * header is about the module around them: the context, the barrier and the exported functions.
 *
 * EXPORTED (all `extern`, C linkage):
 *   int    kiln_abi_version(void);                 KILN_MODULE_ABI_VERSION
 *   int    kiln_weight_count(void);
 *   size_t kiln_packed_weight_floats(int w);       floats of weight w in its packed layout
 *   void   kiln_pack_weight(int w, const float *raw, float *packed);
 *            raw: the weight as the graph declares it (dense row-major); packed: 64-byte aligned
 *   size_t kiln_arena_bytes(void);                 activations, inputs and outputs
 *   int    kiln_kernel_count(void);                scheduled kernel calls (the timing slots)
 *   kiln_ctx *kiln_ctx_create(unsigned char *arena, const float *const *weights,
 *                             const int *node_of_thread, int n_threads);
 *            weights[node * kiln_weight_count() + w]: one table per NUMA node (replicated
 *            weights) or one table (node 0) used by every thread when node_of_thread is NULL.
 *            Allocates each thread's scratch and the barrier; NULL when out of memory.
 *   void   kiln_ctx_set_timing(kiln_ctx *ctx, double *kernel_seconds);
 *            kernel_seconds: kiln_kernel_count() slots that thread 0 fills on each run, or NULL.
 *   void   kiln_ctx_destroy(kiln_ctx *ctx);
 *   void   kiln_run(kiln_ctx *ctx, int thread_id);
 *            every thread of the team calls it once per forward pass (SPMD); kernels are
 *            separated by a barrier where the schedule has a dependency.
 */
#ifndef KILN_MODULE_H
#define KILN_MODULE_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KILN_MODULE_ABI_VERSION 1
#define KILN_EXPORT __attribute__((visibility("default")))

/* A sense-reversing spinning barrier: the team's threads are pinned one per core, so waiting
 * is a few hundred nanoseconds of spinning, not a system call. Not inlined: a schedule calls it
 * hundreds of times, and inlined copies made DiT-XL/2's kiln_run ~100 KB of code for the C
 * compiler to optimize (a call costs nanoseconds against kernels of microseconds). */
typedef struct {
  int count;
  int generation;
  int n_threads;
} kiln_barrier;

static __attribute__((noinline, unused)) void kiln_barrier_wait(kiln_barrier *b) {
  if (b->n_threads == 1) return;
  int generation = __atomic_load_n(&b->generation, __ATOMIC_ACQUIRE);
  if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == b->n_threads) {
    __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&b->generation, generation + 1, __ATOMIC_RELEASE);
    return;
  }
  while (__atomic_load_n(&b->generation, __ATOMIC_ACQUIRE) == generation) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
  }
}

typedef struct kiln_ctx {
  unsigned char *arena;
  const float *const *weights;
  const int *node_of_thread;
  int n_threads;
  float **scratch;
  kiln_barrier barrier;
  double *kernel_seconds;
} kiln_ctx;

static inline const float *const *kiln_weights_of(const kiln_ctx *ctx, int thread_id, int n_weights) {
  int node = ctx->node_of_thread ? ctx->node_of_thread[thread_id] : 0;
  return ctx->weights + (size_t)node * (size_t)n_weights;
}

static inline double kiln_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if KILN_IN_PART(0)
/* The context functions every module shares; `scratch_floats` is the module's per-thread need. */
static kiln_ctx *kiln_ctx_create_with(unsigned char *arena, const float *const *weights, const int *node_of_thread,
                                      int n_threads, size_t scratch_floats) {
  if (n_threads < 1) return NULL;
  kiln_ctx *ctx = (kiln_ctx *)calloc(1, sizeof(kiln_ctx));
  if (!ctx) return NULL;
  ctx->arena = arena;
  ctx->weights = weights;
  ctx->node_of_thread = node_of_thread;
  ctx->n_threads = n_threads;
  ctx->barrier.n_threads = n_threads;
  ctx->scratch = (float **)calloc((size_t)n_threads, sizeof(float *));
  if (!ctx->scratch) {
    free(ctx);
    return NULL;
  }
  size_t bytes = (scratch_floats * sizeof(float) + 63) / 64 * 64;
  for (int t = 0; t < n_threads; t++) {
    ctx->scratch[t] = bytes ? (float *)aligned_alloc(64, bytes) : NULL;
    if (bytes && !ctx->scratch[t]) {
      for (int u = 0; u < t; u++) free(ctx->scratch[u]);
      free(ctx->scratch);
      free(ctx);
      return NULL;
    }
  }
  return ctx;
}

KILN_EXPORT void kiln_ctx_set_timing(kiln_ctx *ctx, double *kernel_seconds) { ctx->kernel_seconds = kernel_seconds; }

KILN_EXPORT void kiln_ctx_destroy(kiln_ctx *ctx) {
  if (!ctx) return;
  for (int t = 0; t < ctx->n_threads; t++) free(ctx->scratch[t]);
  free(ctx->scratch);
  free(ctx);
}

KILN_EXPORT int kiln_abi_version(void) { return KILN_MODULE_ABI_VERSION; }
#endif

#endif
