import Codegen
import Foundation
import Runtime

@testable import Bench

enum BenchFixtures {
  /// This machine, with a profile store of its own so a test never reads or writes the user's ceilings;
  /// ceilings are measured into it briefly (a fraction of a second).
  static func environment(generation: GenerationRunner?) throws -> BenchEnvironment {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-tests-\(UUID().uuidString)")
    return BenchEnvironment(
      topology: try Topology.current(), host: try HostDetection.current(), hostName: "test-host", profileStore: ProfileStore(directory: folder),
      ceilingMeasurement: CeilingMeasurement(fmaSeconds: 0.05, triadArrayBytes: 8 << 20), generation: generation)
  }

  static func temporaryDirectory() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-report-\(UUID().uuidString)", isDirectory: true)
  }

  static let tinySuite = """
    { "kiln-suite": 1, "name": "tiny", "description": "tiny configs for tests", "rounds": 2,
      "defaults": { "executors": ["compiled", "naive", "eager-blas"], "threads": [1, "all"], "warmups": 1, "repetitions": 3 },
      "runs": [ { "model": "dit-tiny" }, { "model": "llama-tiny" },
                { "kernelBenchmarks": { "gemm": [ { "m": [12, 24], "tokens": 12, "n": 19, "k": 37, "epilogue": "bias-gate-residual" } ],
                                        "attention": [ { "label": "tiny", "heads": 2, "queries": 13, "keys": 7, "headDim": 24 } ],
                                        "threads": [1, "all"], "warmups": 1, "repetitions": 3 } },
                { "compile": { "model": "dit-tiny", "repetitions": 1, "coldTargetSeconds": 600, "warmTargetSeconds": 60 } } ] }
    """

  /// One run of the tiny suite, shared by the tests that read a report (it compiles modules).
  static let tinyReport: Result<BenchReport, any Error> = Result {
    let suite = try Suite(json: Data(tinySuite.utf8), file: "tiny.json")
    return try BenchHarness(environment: try environment(generation: nil)).run(suite)
  }
}
