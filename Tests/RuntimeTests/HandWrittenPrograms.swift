import Codegen
import Foundation
import KilnTestSupport
import Runtime
import Tracer

/// Programs written by hand in C against kiln_module.h, to test the loader and the executor
/// independently of the lowering.
enum HandWrittenPrograms {
  /// y[M×N] = x[M×K] · Wᵀ + b with a PyTorch Linear weight W [N, K] packed for `kiln_gemm` (the
  /// `.gemmB` slot) and a plain bias b [N]. K spans several KC blocks with a tail; M and N are primes.
  struct Linear {
    static let rows = 5
    static let inFeatures = 37
    static let outFeatures = 19
    static let depthBlock = 16
    static let inputOffset = 0
    static let outputOffset = 768
    static let arenaBytes = 1152

    let program: Program

    init(profile: HardwareProfile, name: String = "hand-linear", mode: LoweringMode = .compiled) throws {
      let (m, k, n) = (Self.rows, Self.inFeatures, Self.outFeatures)
      let source = try TemplateLibrary.bundled().prelude(for: profile) + """

        #define M \(m)
        #define K \(k)
        #define N \(n)
        #define KC \(Self.depthBlock)
        #define MC KILN_ROUND_UP(64, KILN_MR)
        #define NC KILN_ROUND_UP(64, KILN_NR)
        #define X_OFFSET \(Self.inputOffset)
        #define Y_OFFSET \(Self.outputOffset)

        KILN_EXPORT int kiln_weight_count(void) { return 2; }
        KILN_EXPORT size_t kiln_packed_weight_floats(int w) { return w == 0 ? KILN_PACKED_B_FLOATS(K, N) : (size_t)N; }
        KILN_EXPORT void kiln_pack_weight(int w, const float *raw, float *packed) {
          if (w == 0) kiln_pack_b(raw, 1, K, K, N, KC, packed);
          else memcpy(packed, raw, N * sizeof(float));
        }
        KILN_EXPORT size_t kiln_arena_bytes(void) { return \(Self.arenaBytes); }
        KILN_EXPORT int kiln_kernel_count(void) { return 1; }
        KILN_EXPORT kiln_ctx *kiln_ctx_create(unsigned char *arena, const float *const *weights,
                                              const int *node_of_thread, int n_threads) {
          return kiln_ctx_create_with(arena, weights, node_of_thread, n_threads, KILN_GEMM_SCRATCH_FLOATS(MC, KC));
        }
        KILN_EXPORT void kiln_run(kiln_ctx *ctx, int tid) {
          const float *const *w = kiln_weights_of(ctx, tid, 2);
          double start = kiln_now();
          kiln_gemm((const float *)(ctx->arena + X_OFFSET), K, w[0], (float *)(ctx->arena + Y_OFFSET), N, M, N, K,
                    KILN_BLOCKING(MC, KC, NC), KILN_EPILOGUE(.bias_col = w[1]), ctx->scratch[tid], tid, ctx->n_threads);
          kiln_barrier_wait(&ctx->barrier);
          if (tid == 0 && ctx->kernel_seconds) ctx->kernel_seconds[0] = kiln_now() - start;
        }

        """
      program = Program(
        name: name, profile: profile, mode: mode,
        weights: [
          WeightSlot(name: "fc.weight", shape: [n, k], packing: .gemmB(k: k, n: n, strideK: 1, strideN: k)),
          WeightSlot(name: "fc.bias", shape: [n], packing: .plain),
        ],
        inputs: [ProgramValue(name: "x", shape: [m, k], dtype: .f32, byteOffset: Self.inputOffset)],
        outputs: [ProgramValue(name: "y", shape: [m, n], dtype: .f32, byteOffset: Self.outputOffset)],
        arenaBytes: Self.arenaBytes, liveBytesLowerBound: (m * k + m * n) * 4,
        kernels: [KernelSummary(name: "k0_gemm", template: "gemm", function: "kiln_gemm", scopes: ["fc"], nodes: [],
                                flops: 2 * m * n * k, bytes: (m * k + n * k + n + m * n) * 4)],
        patterns: ["gemm": 1], source: source, optimization: mode == .compiled ? .o3 : .o2)
    }

    /// Random weights (W, b) and input x, drawn from `seed`.
    static func feeds(seed: UInt64) throws -> (weights: [String: RuntimeTensor], inputs: [String: RuntimeTensor]) {
      var rng = SplitMix64(seed: seed)
      func random(_ shape: Shape) throws -> RuntimeTensor {
        try RuntimeTensor(shape: shape, floats: randomTensor(shape, using: &rng).values.map(Float.init))
      }
      let weights = ["fc.weight": try random([outFeatures, inFeatures]), "fc.bias": try random([outFeatures])]
      return (weights, ["x": try random([rows, inFeatures])])
    }

    /// x · Wᵀ + b in Double.
    static func reference(weights: [String: RuntimeTensor], inputs: [String: RuntimeTensor]) -> [Double] {
      let w = weights["fc.weight"]?.floats ?? []
      let b = weights["fc.bias"]?.floats ?? []
      let x = inputs["x"]?.floats ?? []
      var y = [Double](repeating: 0, count: rows * outFeatures)
      for row in 0..<rows {
        for column in 0..<outFeatures {
          var sum = Double(b[column])
          for i in 0..<inFeatures { sum += Double(x[row * inFeatures + i]) * Double(w[column * inFeatures + i]) }
          y[row * outFeatures + column] = sum
        }
      }
      return y
    }
  }

  /// y[i, :] = table[ids[i], :]: an i32 input indexing a plain weight, rows split over the threads.
  static func embeddingLookup(profile: HardwareProfile, ids: Int, rows: Int, width: Int) throws -> Program {
    let outputOffset = (ids * 4 + 63) / 64 * 64
    let arenaBytes = outputOffset + ids * width * 4
    let source = try TemplateLibrary.bundled().prelude(for: profile) + """

      KILN_EXPORT int kiln_weight_count(void) { return 1; }
      KILN_EXPORT size_t kiln_packed_weight_floats(int w) { return \(rows * width); }
      KILN_EXPORT void kiln_pack_weight(int w, const float *raw, float *packed) { memcpy(packed, raw, \(rows * width) * sizeof(float)); }
      KILN_EXPORT size_t kiln_arena_bytes(void) { return \(arenaBytes); }
      KILN_EXPORT int kiln_kernel_count(void) { return 1; }
      KILN_EXPORT kiln_ctx *kiln_ctx_create(unsigned char *arena, const float *const *weights,
                                            const int *node_of_thread, int n_threads) {
        return kiln_ctx_create_with(arena, weights, node_of_thread, n_threads, 0);
      }
      KILN_EXPORT void kiln_run(kiln_ctx *ctx, int tid) {
        const float *table = kiln_weights_of(ctx, tid, 1)[0];
        const int *ids = (const int *)ctx->arena;
        float *y = (float *)(ctx->arena + \(outputOffset));
        int begin, end;
        kiln_thread_range(\(ids), tid, ctx->n_threads, &begin, &end);
        for (int i = begin; i < end; i++) memcpy(y + i * \(width), table + ids[i] * \(width), \(width) * sizeof(float));
        kiln_barrier_wait(&ctx->barrier);
      }

      """
    return Program(
      name: "hand-lookup", profile: profile, mode: .naive,
      weights: [WeightSlot(name: "table", shape: [rows, width], packing: .plain)],
      inputs: [ProgramValue(name: "ids", shape: [ids], dtype: .i32, byteOffset: 0)],
      outputs: [ProgramValue(name: "y", shape: [ids, width], dtype: .f32, byteOffset: outputOffset)],
      arenaBytes: arenaBytes, liveBytesLowerBound: arenaBytes,
      kernels: [KernelSummary(name: "k0_gather", template: "loop", function: "kiln_run", scopes: [""], nodes: [], flops: 0, bytes: ids * width * 8)],
      patterns: [:], source: source, optimization: .o2)
  }

  /// A module that exports every entry point of kiln_module.h but claims ABI `version`, or leaves
  /// out `missing`.
  static func bare(profile: HardwareProfile, version: Int = 1, missing: String? = nil) -> Program {
    let functions = [
      "kiln_abi_version": "int kiln_abi_version(void) { return \(version); }",
      "kiln_weight_count": "int kiln_weight_count(void) { return 0; }",
      "kiln_packed_weight_floats": "size_t kiln_packed_weight_floats(int w) { return 0; }",
      "kiln_pack_weight": "void kiln_pack_weight(int w, const float *raw, float *packed) {}",
      "kiln_arena_bytes": "size_t kiln_arena_bytes(void) { return 64; }",
      "kiln_kernel_count": "int kiln_kernel_count(void) { return 0; }",
      "kiln_ctx_create": "void *kiln_ctx_create(unsigned char *a, const float *const *w, const int *n, int t) { return a; }",
      "kiln_ctx_set_timing": "void kiln_ctx_set_timing(void *c, double *s) {}",
      "kiln_ctx_destroy": "void kiln_ctx_destroy(void *c) {}",
      "kiln_run": "void kiln_run(void *c, int t) {}",
    ]
    let source = "#include <stddef.h>\n" + functions.sorted { $0.key < $1.key }.filter { $0.key != missing }.map(\.value).joined(separator: "\n") + "\n"
    return Program(
      name: "bare-v\(version)-\(missing ?? "complete")", profile: profile, mode: .naive, weights: [], inputs: [], outputs: [],
      arenaBytes: 64, liveBytesLowerBound: 0, kernels: [], patterns: [:], source: source, optimization: .o2)
  }
}
