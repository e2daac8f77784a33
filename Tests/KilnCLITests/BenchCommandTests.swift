import Foundation
import KilnTestSupport
import Testing

/// `kiln bench` and `kiln report compare` as a user runs them, with a cache folder of their own.
@Suite(.serialized) struct BenchCommandTests {
  static let cache = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-cli-cache-\(UUID().uuidString)")

  func kiln(_ arguments: [String]) throws -> CLITests.Result {
    var environment = ProcessInfo.processInfo.environment
    environment["KILN_CACHE_DIR"] = Self.cache.path
    return try BuiltExecutable.run("kiln", arguments, environment: environment)
  }

  func folder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  @Test func malformedSuiteIsRefusedInOneLineNamingTheField() throws {
    let suite = try folder().appendingPathComponent("bad.json")
    try Data(#"{"kiln-suite": 1, "name": "bad", "runs": [{"model": "dit-tiny", "executors": ["fast"]}]}"#.utf8).write(to: suite)
    let result = try kiln(["bench", "--suite", suite.path])
    #expect(result.status != 0)
    #expect(result.stderr.contains("suite bad.json: runs[0].executors[0]: unknown executor 'fast'"), "\(result.stderr)")
  }

  @Test func benchWritesTheReportAndCompareFlagsASlowerCopy() throws {
    let work = try folder()
    let suite = work.appendingPathComponent("tiny.json")
    try Data(#"""
      { "kiln-suite": 1, "name": "tiny", "defaults": { "executors": ["compiled", "eager-blas"], "threads": [1], "repetitions": 3 },
        "runs": [ { "model": "dit-tiny" } ] }
      """#.utf8).write(to: suite)
    let output = work.appendingPathComponent("report")
    let run = try kiln(["bench", "--suite", suite.path, "-o", output.path])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.contains("measuring them now"), "a fresh cache has no ceilings: \(run.stderr)")
    for name in ["report.json", "report.md", "report.html"] {
      #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent(name).path), "\(name) missing")
    }

    let old = output.appendingPathComponent("report.json")
    var report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: old)) as? [String: Any])
    var models = try #require(report["models"] as? [[String: Any]])
    var cases = try #require(models[0]["cases"] as? [[String: Any]])
    for index in cases.indices { cases[index]["msPerStep"] = (cases[index]["msPerStep"] as? Double ?? 0) * 3 }
    models[0]["cases"] = cases
    report["models"] = models
    let slower = work.appendingPathComponent("slower.json")
    try JSONSerialization.data(withJSONObject: report).write(to: slower)

    let same = try kiln(["report", "compare", old.path, old.path, "--fail-on-regression"])
    #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
    let regressed = try kiln(["report", "compare", old.path, slower.path, "--fail-on-regression"])
    #expect(regressed.status == 1)
    #expect(regressed.stdout.contains("REGRESSION"))
    #expect(regressed.stdout.contains("2 regressions"), "\(regressed.stdout)")
  }
}
