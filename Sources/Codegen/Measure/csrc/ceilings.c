/*
 * Kiln ceiling microbenchmark: the machine's peak f32 FMA throughput (one core, all cores) and
 * its memory bandwidth (a STREAM-triad), printed as one JSON object on stdout.
 *
 * Built by Kiln with the profile's flags and:
 *   -DKILN_VECTOR_BYTES=<vector width x 4>   vector size (GCC/Clang vector extension)
 *   -DKILN_CHAINS=<n>                         independent FMA chains, >= latency x FMA units
 *   -ffp-contract=fast                        so that acc * m + a becomes one FMA instruction
 * Usage: ceilings <seconds per FMA phase> <bytes per triad array> <threads>
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float vf __attribute__((vector_size(KILN_VECTOR_BYTES)));
enum { LANES = KILN_VECTOR_BYTES / 4, CHAINS = KILN_CHAINS, INNER = 2048, TRIAD_PASSES = 5 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Pins the calling thread to the index-th CPU this process may use. */
static void pin_to(int index) {
#ifdef __linux__
  cpu_set_t allowed, one;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  int seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (seen++ == index) {
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      sched_setaffinity(0, sizeof one, &one);
      return;
    }
  }
#else
  (void)index;
#endif
}

/* Shared by the threads of one phase: all start together after a spinning barrier. */
typedef struct {
  int threads;
  double seconds;
  size_t elements;
  float *a, *b, *c;
  volatile int arrived;
} phase;

typedef struct {
  phase *shared;
  int index;
  double flops, elapsed, sink;
  double pass_times[TRIAD_PASSES];
} worker;

/* The generation-th meeting of the phase's threads: returns once all of them have arrived. */
static void meet(phase *p, int generation) {
  __atomic_add_fetch(&p->arrived, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&p->arrived, __ATOMIC_SEQ_CST) < p->threads * generation) {}
}

/* CHAINS independent accumulators, each a chain of dependent FMAs; m and a are read from
 * volatile storage so the compiler cannot fold the loop. */
static void *fma_worker(void *argument) {
  worker *w = argument;
  pin_to(w->index);
  volatile float source[2] = {0.999999f, 1e-7f};
  vf m, a, acc[CHAINS];
  for (int l = 0; l < LANES; l++) { m[l] = source[0]; a[l] = source[1]; }
  for (int k = 0; k < CHAINS; k++)
    for (int l = 0; l < LANES; l++) acc[k][l] = (float)(k + l) * 1e-3f;
  meet(w->shared, 1);
  double start = now(), elapsed = 0;
  long rounds = 0;
  do {
    for (int i = 0; i < INNER; i++) {
#pragma GCC unroll 32
      for (int k = 0; k < CHAINS; k++) acc[k] = acc[k] * m + a;
    }
    rounds++;
    elapsed = now() - start;
  } while (elapsed < w->shared->seconds);
  double sink = 0;
  for (int k = 0; k < CHAINS; k++)
    for (int l = 0; l < LANES; l++) sink += acc[k][l];
  w->flops = 2.0 * LANES * CHAINS * INNER * (double)rounds;
  w->elapsed = elapsed;
  w->sink = sink;
  return NULL;
}

/* a[i] = b[i] + s * c[i] over this thread's contiguous share, TRIAD_PASSES times; the threads
 * meet before each pass so that a pass's time is the time of all threads streaming at once. */
static void *triad_worker(void *argument) {
  worker *w = argument;
  phase *p = w->shared;
  pin_to(w->index);
  size_t begin = p->elements * w->index / p->threads, end = p->elements * (w->index + 1) / p->threads;
  for (size_t i = begin; i < end; i++) { p->a[i] = 0; p->b[i] = 1; p->c[i] = 2; } /* first touch */
  const float s = 3.0f;
  for (int pass = 0; pass < TRIAD_PASSES; pass++) {
    meet(p, pass + 1);
    double start = now();
    for (size_t i = begin; i < end; i++) p->a[i] = p->b[i] + s * p->c[i];
    w->pass_times[pass] = now() - start;
  }
  w->sink = p->a[begin];
  return NULL;
}

/* Runs body on `threads` pinned threads; returns the slowest thread's time and, for the triad,
 * the fastest pass (each pass timed by its slowest thread). */
static double run_phase(phase *p, void *(*body)(void *), double *flops, double *sink, double *best_pass) {
  pthread_t ids[256];
  worker workers[256];
  p->arrived = 0;
  for (int t = 0; t < p->threads; t++) {
    workers[t] = (worker){.shared = p, .index = t};
    pthread_create(&ids[t], NULL, body, &workers[t]);
  }
  double slowest = 0;
  *flops = 0;
  for (int t = 0; t < p->threads; t++) {
    pthread_join(ids[t], NULL);
    if (workers[t].elapsed > slowest) slowest = workers[t].elapsed;
    *flops += workers[t].flops;
    *sink += workers[t].sink;
  }
  *best_pass = 1e30;
  for (int pass = 0; pass < TRIAD_PASSES; pass++) {
    double pass_time = 0;
    for (int t = 0; t < p->threads; t++)
      if (workers[t].pass_times[pass] > pass_time) pass_time = workers[t].pass_times[pass];
    if (pass_time < *best_pass) *best_pass = pass_time;
  }
  return slowest;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <seconds per FMA phase> <bytes per triad array> <threads>\n", argv[0]);
    return 2;
  }
  double seconds = atof(argv[1]);
  size_t elements = (size_t)atoll(argv[2]) / sizeof(float);
  int threads = atoi(argv[3]);
  if (seconds <= 0 || elements < 1024 || threads < 1 || threads > 256) {
    fprintf(stderr, "ceilings: need seconds > 0, at least 4096 bytes per array and 1..256 threads\n");
    return 2;
  }
  double flops, sink = 0, best_pass;
  phase one = {.threads = 1, .seconds = seconds};
  double one_time = run_phase(&one, fma_worker, &flops, &sink, &best_pass);
  double one_gflops = flops / one_time * 1e-9;

  phase all = {.threads = threads, .seconds = seconds};
  double all_time = run_phase(&all, fma_worker, &flops, &sink, &best_pass);
  double all_gflops = flops / all_time * 1e-9;

  phase triad = {.threads = threads, .elements = elements};
  triad.a = aligned_alloc(64, (elements * sizeof(float) + 63) / 64 * 64);
  triad.b = aligned_alloc(64, (elements * sizeof(float) + 63) / 64 * 64);
  triad.c = aligned_alloc(64, (elements * sizeof(float) + 63) / 64 * 64);
  if (!triad.a || !triad.b || !triad.c) {
    fprintf(stderr, "ceilings: cannot allocate 3 arrays of %zu bytes\n", elements * sizeof(float));
    return 1;
  }
  run_phase(&triad, triad_worker, &flops, &sink, &best_pass);
  double bandwidth = 3.0 * sizeof(float) * (double)elements / best_pass * 1e-9;

  printf("{\"gflopsOneCore\": %.6g, \"gflopsAllCores\": %.6g, \"threads\": %d, \"bandwidthGBps\": %.6g, \"sink\": %.6g}\n",
         one_gflops, all_gflops, threads, bandwidth, sink);
  free(triad.a);
  free(triad.b);
  free(triad.c);
  return 0;
}
