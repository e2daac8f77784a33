import Foundation
import Testing

@testable import Bench

@Suite struct KernelBenchmarkSuiteTests {
  func parse(_ text: String) throws -> Suite { try Suite(json: Data(text.utf8), file: "t.json") }

  /// A suite whose only entry is `kernels` (a JSON object's text).
  func suite(_ kernels: String) -> String { #"{"kiln-suite": 1, "name": "t", "runs": [{"kernelBenchmarks": "# + kernels + "}]}" }

  @Test func entryExpandsRowListsAndSplitsTokensIntoSamples() throws {
    let parsed = try parse(suite("""
      { "label": "dit", "gemm": [ { "m": [256, 512], "tokens": 256, "n": 1152, "k": 4608, "epilogue": "bias-gate-residual" },
                                  { "m": 64, "n": 96, "k": 80 } ],
        "attention": [ { "label": "DiT-XL/2", "batch": 2, "heads": 16, "queries": 256, "headDim": 72 },
                       { "heads": 2, "queries": 7, "keys": 131, "headDim": 64 } ],
        "threads": [1, "all"], "warmups": 0, "repetitions": 7 }
      """))
    let run = try #require(parsed.kernelBenchmarkRuns.first)
    #expect(parsed.modelRuns.isEmpty && parsed.entries.count == 1)
    #expect(run.label == "dit")
    #expect(run.gemm == [
      GemmBenchmarkShape(m: 256, n: 1152, k: 4608, batch: 1, epilogue: .biasGateResidual),
      GemmBenchmarkShape(m: 512, n: 1152, k: 4608, batch: 2, epilogue: .biasGateResidual),
      GemmBenchmarkShape(m: 64, n: 96, k: 80, batch: 1, epilogue: .none),
    ])
    #expect(run.attention == [
      AttentionBenchmarkShape(label: "DiT-XL/2", batch: 2, heads: 16, queries: 256, keys: 256, headDim: 72),
      AttentionBenchmarkShape(label: "attention", batch: 1, heads: 2, queries: 7, keys: 131, headDim: 64),
    ])
    #expect(run.threads == [.count(1), .all])
    #expect(run.warmups == 0 && run.repetitions == 7 && run.profile == "native")
  }

  @Test func defaultsAreOneAndAllThreadsOneWarmUpFiveRepetitions() throws {
    let run = try #require(try parse(suite(#"{"gemm": [{"m": 8, "n": 8, "k": 8}]}"#)).kernelBenchmarkRuns.first)
    #expect(run.threads == [.count(1), .all] && run.warmups == 1 && run.repetitions == 5)
    #expect(run.attention.isEmpty && run.label == "kernel benchmarks")
  }

  @Test func flopsCountTheProductsOnly() {
    #expect(GemmBenchmarkShape(m: 512, n: 3456, k: 1152, epilogue: .bias).flops == 2 * 512 * 3456 * 1152)
    #expect(AttentionBenchmarkShape(label: "a", batch: 2, heads: 16, queries: 256, keys: 256, headDim: 72).flops == 4 * 2 * 16 * 256 * 256 * 72)
  }

  @Test(arguments: [
    (#"{"gemm": []}"#, "suite t.json: runs[0].kernelBenchmarks: names no shapes"),
    (#"{"gemm": {"m": 8}}"#, "suite t.json: runs[0].kernelBenchmarks.gemm: must be a list"),
    (#"{"attention": 3}"#, "suite t.json: runs[0].kernelBenchmarks.attention: must be a list"),
    (#"{"gemm": [{"m": 8, "n": 8}]}"#, "suite t.json: runs[0].kernelBenchmarks.gemm[0].k: missing"),
    (#"{"gemm": [{"m": 8, "n": 8, "k": 0}]}"#, "suite t.json: runs[0].kernelBenchmarks.gemm[0].k: must be at least 1, got 0"),
    (#"{"gemm": [{"m": [], "n": 8, "k": 8}]}"#, "suite t.json: runs[0].kernelBenchmarks.gemm[0].m: is empty"),
    (#"{"gemm": [{"m": [8, "x"], "n": 8, "k": 8}]}"#, "suite t.json: runs[0].kernelBenchmarks.gemm[0].m[1]: must be an integer, got 'x'"),
    (#"{"gemm": [{"m": 8, "n": 8, "k": 8, "epilogue": "relu"}]}"#,
     "suite t.json: runs[0].kernelBenchmarks.gemm[0].epilogue: unknown epilogue 'relu' (known: none, bias, bias-gelu-tanh, bias-gate-residual)"),
    (#"{"gemm": [{"m": [256, 300], "tokens": 256, "n": 8, "k": 8}]}"#,
     "suite t.json: runs[0].kernelBenchmarks.gemm[0].tokens: 256 tokens per sample do not divide m = 300"),
    (#"{"gemm": [{"m": 8, "n": 8, "k": 8, "batch": 2}]}"#, "suite t.json: runs[0].kernelBenchmarks.gemm[0].batch: unknown field"),
    (#"{"attention": [{"queries": 8, "headDim": 8}]}"#, "suite t.json: runs[0].kernelBenchmarks.attention[0].heads: missing"),
    (#"{"attention": [{"heads": 2, "queries": 8, "headDim": 8, "keys": -1}]}"#,
     "suite t.json: runs[0].kernelBenchmarks.attention[0].keys: must be at least 1, got -1"),
    (#"{"attention": [{"heads": 2, "queries": 8, "headDim": 8, "dim": 8}]}"#,
     "suite t.json: runs[0].kernelBenchmarks.attention[0].dim: unknown field"),
    (#"{"gemm": [{"m": 8, "n": 8, "k": 8}], "threads": [0]}"#,
     "suite t.json: runs[0].kernelBenchmarks.threads[0]: threads must be a positive integer or \"all\", got 0"),
    (#"{"gemm": [{"m": 8, "n": 8, "k": 8}], "repetitions": 0}"#, "suite t.json: runs[0].kernelBenchmarks.repetitions: must be at least 1, got 0"),
    (#"{"gemm": [{"m": 8, "n": 8, "k": 8}], "profile": "sparc"}"#, "suite t.json: runs[0].kernelBenchmarks.profile: unknown profile 'sparc'"),
    (#"{"gemm": [{"m": 8, "n": 8, "k": 8}], "executors": ["naive"]}"#, "suite t.json: runs[0].kernelBenchmarks.executors: unknown field"),
    (#"[1]"#, "suite t.json: runs[0].kernelBenchmarks: must be an object"),
  ])
  func malformedKernelBenchmarkFieldIsRefusedNamingIt(_ kernels: String, _ expectedPrefix: String) {
    let message: String
    do {
      _ = try parse(suite(kernels))
      message = "accepted"
    } catch {
      message = "\(error)"
    }
    #expect(message.hasPrefix(expectedPrefix), "got: \(message)")
  }

  @Test func aSecondKernelBenchmarksEntryOrAMixedEntryIsRefused() {
    let shapes = #"{"gemm": [{"m": 8, "n": 8, "k": 8}]}"#
    #expect(throws: BenchError.malformedSuite(
      file: "t.json", field: "runs[1].kernelBenchmarks",
      "runs[0] is already a kernelBenchmarks entry; a suite has at most one (put every shape in it)")) {
      try parse(#"{"kiln-suite": 1, "name": "t", "runs": [{"kernelBenchmarks": "# + shapes + #"}, {"kernelBenchmarks": "# + shapes + #"}]}"#)
    }
    #expect(throws: BenchError.self) {
      try parse(#"{"kiln-suite": 1, "name": "t", "runs": [{"kernelBenchmarks": "# + shapes + #", "model": "dit-tiny"}]}"#)
    }
  }
}
