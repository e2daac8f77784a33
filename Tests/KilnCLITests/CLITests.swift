import Foundation
import KilnTestSupport
import Testing

/// Runs the built `kiln` executable as a user would and checks what it prints and how it exits.
@Suite struct CLITests {
  typealias Result = BuiltExecutable.Result

  /// One kernel cache for the test run, so tests neither read nor fill the user's.
  static let environment: [String: String] = {
    var environment = ProcessInfo.processInfo.environment
    environment["KILN_CACHE_DIR"] = FileManager.default.temporaryDirectory
      .appendingPathComponent("kiln-cli-cache-\(ProcessInfo.processInfo.processIdentifier)").path
    return environment
  }()

  func kiln(_ arguments: String...) throws -> Result {
    try BuiltExecutable.run("kiln", arguments, environment: Self.environment)
  }

  func temporaryFile(_ name: String, contents: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try Data(contents.utf8).write(to: url)
    return url
  }

  @Test func showJSONHasTheDocumentedKeys() throws {
    let result = try kiln("show", "dit-s-2", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    for key in ["params", "macs", "flops", "nodes", "ops"] { #expect(object[key] != nil, "missing \(key)") }
    let ops = try #require(object["ops"] as? [String: Int])
    #expect(ops["matmul"] != nil)
  }

  @Test func traceWritesAGraphThatShowReadsBack() throws {
    let url = try temporaryFile("graph.json", contents: "")
    let traced = try kiln("trace", "dit-tiny", "-o", url.path)
    #expect(traced.status == 0, "\(traced.stderr)")
    let fromFile = try kiln("show", url.path, "--json")
    let fromModel = try kiln("show", "dit-tiny", "--json")
    #expect(fromFile.status == 0, "\(fromFile.stderr)")
    func withoutTitle(_ text: String) -> String { text.split(separator: "\n").filter { !$0.contains("\"model\"") }.joined() }
    #expect(withoutTitle(fromFile.stdout) == withoutTitle(fromModel.stdout))
  }

  @Test(arguments: [
    ("truncated", "{\"kiln-graph\": 1, \"nodes\": [{\"id\": 0,"),
    ("wrong version", "{\"kiln-graph\": 9, \"nodes\": [], \"outputs\": []}"),
    ("dangling operand", """
      {"kiln-graph": 1, "nodes": [{"id": 0, "op": "exp", "operands": [4], "shape": [2], "dtype": "f32", "scope": ""}],
       "outputs": [{"name": "y", "node": 0}]}
      """),
    ("mismatched shape", """
      {"kiln-graph": 1, "nodes": [
        {"id": 0, "op": "input", "operands": [], "shape": [2, 3], "dtype": "f32", "scope": "", "name": "x"},
        {"id": 1, "op": "exp", "operands": [0], "shape": [3, 2], "dtype": "f32", "scope": ""}],
       "outputs": [{"name": "y", "node": 1}]}
      """),
    ("absurd dimension", """
      {"kiln-graph": 1, "nodes": [
        {"id": 0, "op": "input", "operands": [], "shape": [1000000000000, 1000000000000], "dtype": "f32", "scope": "", "name": "x"}],
       "outputs": [{"name": "y", "node": 0}]}
      """),
  ])
  func malformedGraphFileGivesOneLineAndNonZeroExit(case name: String, json: String) throws {
    let url = try temporaryFile("bad.json", contents: json)
    let result = try kiln("show", url.path)
    #expect(result.status != 0, "\(name): exit status 0")
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "\(name): \(result.stderr)")
    #expect(result.stderr.contains(url.path), "\(name): the error does not name the file: \(result.stderr)")
  }

  @Test func unknownModelNamesTheKnownFamilies() throws {
    let result = try kiln("show", "ditt-xl-2")
    #expect(result.status != 0)
    #expect(result.stderr.contains("dit, sd-vae-decoder"))
  }
}
