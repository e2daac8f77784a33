import Foundation
import Testing

@testable import Bench

@Suite struct SuiteParsingTests {
  static let valid = """
    { "kiln-suite": 1, "name": "t", "defaults": { "executors": ["compiled"], "repetitions": 3 },
      "runs": [ { "model": "dit-tiny" },
                { "model": "llama", "config": "tiny", "set": { "layers": 1 }, "executors": ["naive", "eager-blas"],
                  "threads": [1, "all"], "repetitions": { "default": 4, "naive": 1 }, "warmups": 0 },
                { "generation": { "model": "dit-tiny", "steps": 3 } },
                { "compile": { "model": "dit-tiny", "coldTargetSeconds": 10 } } ] }
    """

  func parse(_ text: String) throws -> Suite { try Suite(json: Data(text.utf8), file: "t.json") }

  func refusal(_ text: String) -> String {
    do {
      _ = try parse(text)
      return "accepted"
    } catch {
      return "\(error)"
    }
  }

  @Test func validSuiteResolvesDefaultsAndPerExecutorCounts() throws {
    let suite = try parse(Self.valid)
    #expect(suite.modelRuns.count == 2)
    #expect(suite.generationRuns.count == 1)
    let first = suite.modelRuns[0]
    #expect(first.executors == [.compiled])
    #expect(first.repetitions[.compiled] == 3)
    #expect(first.threads == [.all])
    let second = suite.modelRuns[1]
    #expect(second.executors == [.naive, .eagerBLAS])
    #expect(second.threads == [.count(1), .all])
    #expect(second.repetitions[.naive] == 1 && second.repetitions[.eagerBLAS] == 4)
    #expect(second.warmups[.naive] == 0)
    #expect(second.overrides == ["layers": "1"])
    #expect(suite.generationRuns[0].steps == 3)
    #expect(suite.generationRuns[0].warmups == 1 && suite.generationRuns[0].repetitions == 1)
    #expect(suite.compileRuns.count == 1)
    #expect(suite.compileRuns[0].label == "compile dit-tiny" && suite.compileRuns[0].coldTargetSeconds == 10)
    #expect(suite.compileRuns[0].warmTargetSeconds == nil && suite.compileRuns[0].repetitions == 1)
    #expect(suite.rounds == 1)
    #expect(try parse(Self.valid.replacingOccurrences(of: #""name": "t","#, with: #""name": "t", "rounds": 3,"#)).rounds == 3)
  }

  @Test func everyCheckedInSuiteParses() throws {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../bench/suites").standardizedFileURL
    for name in ["quick", "default", "full"] {
      let suite = try Suite(contentsOf: folder.appendingPathComponent("\(name).json"))
      #expect(suite.name == name)
      #expect(!suite.modelRuns.isEmpty)
      // Samples spread over the run, so that the noise reported covers the drift a re-run sees.
      #expect(suite.rounds >= 2)
    }
  }

  @Test(arguments: [
    ("{", "suite t.json: (file): not valid JSON"),
    (#"{"name": "t", "runs": [{"model": "dit-tiny"}]}"#, "suite t.json: kiln-suite: missing (this format is version 1)"),
    (#"{"kiln-suite": 2, "name": "t", "runs": [{"model": "dit-tiny"}]}"#, "suite t.json: kiln-suite: version 2 is not supported (this build reads 1)"),
    (#"{"kiln-suite": 1, "runs": [{"model": "dit-tiny"}]}"#, "suite t.json: name: missing"),
    (#"{"kiln-suite": 1, "name": "t"}"#, "suite t.json: runs: missing (a list of model and generation entries)"),
    (#"{"kiln-suite": 1, "name": "t", "runs": []}"#, "suite t.json: runs: is empty: a suite needs at least one entry"),
    (#"{"kiln-suite": 1, "name": "t", "runs": {}}"#, "suite t.json: runs: must be a list"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "executors": ["compiled", "fast"]}]}"#,
     "suite t.json: runs[0].executors[1]: unknown executor 'fast' (known: compiled, eager-blas, naive)"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "executors": []}]}"#, "suite t.json: runs[0].executors: is empty"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "gpt-9"}]}"#, "suite t.json: runs[0].model: "),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit", "config": "huge"}]}"#, "suite t.json: runs[0].config: "),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"config": "tiny"}]}"#, "suite t.json: runs[0].model: missing"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "profiles": ["sparc"]}]}"#, "suite t.json: runs[0].profiles[0]: unknown profile 'sparc'"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "threads": [0]}]}"#,
     "suite t.json: runs[0].threads[0]: threads must be a positive integer or \"all\", got 0"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "threads": ["many"]}]}"#,
     "suite t.json: runs[0].threads[0]: threads must be a positive integer or \"all\", got 'many'"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "numa": ["everywhere"]}]}"#,
     "suite t.json: runs[0].numa[0]: unknown NUMA policy 'everywhere' (known: local, interleave, replicate)"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "repetitions": 0}]}"#, "suite t.json: runs[0].repetitions: must be at least 1, got 0"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "repetitions": 2.5}]}"#, "suite t.json: runs[0].repetitions: must be an integer, got 2.5"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "warmups": -1}]}"#, "suite t.json: runs[0].warmups: must be at least 0, got -1"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "repetitions": {"fast": 2}}]}"#, "suite t.json: runs[0].repetitions.fast: unknown executor 'fast'"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "kernels": "yes"}]}"#, "suite t.json: runs[0].kernels: must be true or false"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "repetition": 3}]}"#, "suite t.json: runs[0].repetition: unknown field"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny", "set": {"depth": [1]}}]}"#, "suite t.json: runs[0].set.depth: must be a string, number or boolean"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"model": "dit-tiny"}, {"model": "dit-tiny"}]}"#,
     "suite t.json: runs[1].label: 'dit-tiny' is used by an earlier entry; labels must be unique"),
    (#"{"kiln-suite": 1, "name": "t", "defaults": {"threads": "all"}, "runs": [{"model": "dit-tiny"}]}"#, "suite t.json: defaults.threads: must be a list"),
    (#"{"kiln-suite": 1, "name": "t", "defaults": {"model": "x"}, "runs": [{"model": "dit-tiny"}]}"#, "suite t.json: defaults.model: unknown field"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"generation": {"model": "dit-tiny"}}]}"#, "suite t.json: runs[0].generation.steps: missing"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"generation": {"model": "dit-tiny", "steps": 2, "executor": "fast"}}]}"#,
     "suite t.json: runs[0].generation.executor: unknown executor 'fast'"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"generation": {"model": "dit-tiny", "steps": 2}, "model": "dit-tiny"}]}"#,
     "suite t.json: runs[0].model: unknown field"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [3]}"#, "suite t.json: runs[0]: must be an object"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"compile": {"model": "dit-tiny", "threads": 2}}]}"#, "suite t.json: runs[0].compile.threads: unknown field"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"compile": {"model": "dit-tiny", "warmTargetSeconds": 0}}]}"#,
     "suite t.json: runs[0].compile.warmTargetSeconds: must be"),
    (#"{"kiln-suite": 1, "name": "t", "runs": [{"generation": {"model": "dit-tiny", "steps": 2, "targetSeconds": "2"}}]}"#,
     "suite t.json: runs[0].generation.targetSeconds: must be"),
    (#"{"kiln-suite": 1, "name": "t", "rounds": 0, "runs": [{"model": "dit-tiny"}]}"#, "suite t.json: rounds: must be at least 1, got 0"),
    (#"{"kiln-suite": 1, "name": "t", "rounds": "3", "runs": [{"model": "dit-tiny"}]}"#, "suite t.json: rounds: must be an integer, got '3'"),
    (#"{"kiln-suite": 1, "name": "t", "rounds": 1.5, "runs": [{"model": "dit-tiny"}]}"#, "suite t.json: rounds: must be an integer, got 1.5"),
    (#"{"kiln-suite": 1, "name": "t", "defaults": {"rounds": 2}, "runs": [{"model": "dit-tiny"}]}"#, "suite t.json: defaults.rounds: unknown field"),
  ])
  func malformedFieldIsRefusedNamingIt(_ text: String, _ expectedPrefix: String) {
    let message = refusal(text)
    #expect(message.hasPrefix(expectedPrefix), "got: \(message)")
    #expect(!message.contains("\n"))
  }

  @Test func generationEntryIsRefusedWithoutAPipeline() throws {
    let suite = try parse(Self.valid)
    let harness = BenchHarness(environment: try BenchFixtures.environment(generation: nil))
    #expect(throws: BenchError.generationUnavailable(file: "t.json", field: "runs[2].generation", label: "generate dit-tiny")) {
      try harness.run(suite)
    }
  }
}
