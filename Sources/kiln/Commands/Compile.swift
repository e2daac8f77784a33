import ArgumentParser
import Codegen
import Foundation
import Runtime
import Tracer

/// `kiln compile MODEL|graph.json --profile P [-o DIR] [--explain] [--json] [--naive]`: traces,
/// optimizes, lowers and compiles a model into a module, and says what it became.
struct Compile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Lower a model for a hardware profile and compile it into a module.",
    discussion: "Traces the model (or reads graph.json), runs the graph passes, lowers it with the profile's "
      + "templates (--naive: one textbook kernel per primitive) and compiles it through the kernel cache. "
      + "With -o DIR, writes DIR/module.c, DIR/program.json (the program without its source) and DIR/module.so.")

  @Argument(help: "A model such as dit-xl-2 (see `kiln models`), or a graph file written by `kiln trace -o graph.json`.")
  var model: String

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "Hardware profile: native or a built-in name (see `kiln profile`).")
  var profile = HardwareProfile.nativeName

  @Option(name: .shortAndLong, help: "Folder to write the C source, the manifest and the shared object into.")
  var output: String?

  @Flag(help: "List every kernel with its template, scopes, FLOPs and bytes.")
  var explain = false

  @Flag(help: "Print the summary as JSON.")
  var json = false

  @Flag(help: "Lower naively (no fusion, textbook loops) instead of with the profile's templates.")
  var naive = false

  func run() throws {
    let started = Date()
    let source = try GraphSource(model, options: modelOptions)
    let graph = try source.graph.optimized()
    let hardware = try HardwareProfile.named(profile)
    // Refused before anything is built: a module this CPU cannot run is of no use here.
    try hardware.requireRunnable(on: HostDetection.current())
    let program = try Lowering.lower(graph: graph, profile: hardware, mode: naive ? .naive : .compiled,
                                     name: ModuleName.sanitized(source.title))
    let module = try LoadedModule.compile(program, cache: ModuleCache())
    if let output { try write(program, module: module, into: URL(fileURLWithPath: output, isDirectory: true)) }

    let report = CompileReport(title: source.title, program: program, module: module, output: output,
                               totalSeconds: Date().timeIntervalSince(started))
    if json {
      try printJSON(report)
      return
    }
    print(report.summary)
    if explain { print(report.kernelTable) }
  }

  /// DIR/module.c, DIR/program.json (the program without its source), DIR/module.so.
  private func write(_ program: Program, module: CompiledModule, into folder: URL) throws {
    let files = FileManager.default
    do {
      try files.createDirectory(at: folder, withIntermediateDirectories: true)
      try Data(program.source.utf8).write(to: folder.appendingPathComponent("module.c"), options: .atomic)
      try programManifest(program).write(to: folder.appendingPathComponent("program.json"), options: .atomic)
      let library = folder.appendingPathComponent("module.so")
      if files.fileExists(atPath: library.path) { try files.removeItem(at: library) }
      try files.copyItem(at: module.path, to: library)
    } catch {
      throw RuntimeError.system("cannot write into \(folder.path): \(error.localizedDescription)")
    }
  }

  /// The program as JSON with `source` replaced by the name of the file that holds it.
  private func programManifest(_ program: Program) throws -> Data {
    let encoded = try JSONEncoder().encode(program)
    guard var object = try JSONSerialization.jsonObject(with: encoded) as? [String: Any] else {
      throw RuntimeError.system("program \(program.name) does not encode as a JSON object")
    }
    object["source"] = nil
    object["sourceFile"] = "module.c"
    return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
  }
}

/// What `kiln compile` reports, as text or JSON.
private struct CompileReport: Encodable {
  struct Kernel: Encodable {
    let name: String
    let template: String
    let function: String
    let scopes: [String]
    let flops: Int
    let bytes: Int
  }

  let model: String
  let profile: String
  let mode: String
  let kernels: [Kernel]
  let distinctFunctions: Int
  /// Pattern kind → fused matches; always has `attention`, 0 when none was found.
  let patterns: [String: Int]
  let flops: Int
  let arenaBytes: Int
  let liveBytesLowerBound: Int
  let weights: Int
  let compileSeconds: Double
  let cacheHit: Bool
  /// The whole command: trace, passes, lowering, emission, cache lookup or compile.
  let totalSeconds: Double
  let module: String
  let output: String?

  init(title: String, program: Program, module: CompiledModule, output: String?, totalSeconds: Double) {
    self.totalSeconds = totalSeconds
    self.model = title
    self.profile = program.profile.name
    self.mode = program.mode.rawValue
    self.kernels = program.kernels.map {
      Kernel(name: $0.name, template: $0.template, function: $0.function, scopes: $0.scopes, flops: $0.flops, bytes: $0.bytes)
    }
    self.distinctFunctions = Set(program.kernels.map(\.function)).count
    self.patterns = program.patterns.merging(["attention": 0]) { found, _ in found }
    self.flops = program.flops
    self.arenaBytes = program.arenaBytes
    self.liveBytesLowerBound = program.liveBytesLowerBound
    self.weights = program.weights.count
    self.compileSeconds = module.compileSeconds
    self.cacheHit = module.cacheHit
    self.module = module.path.path
    self.output = output
  }

  var summary: String {
    let patternText = patterns.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    let compileText = (cacheHit ? "cache hit" : String(format: "compiled in %.2f s", compileSeconds))
      + String(format: "; %.2f s in all", totalSeconds)
    return """
      \(model) (\(mode), profile \(profile)): \(kernels.count) kernels (\(distinctFunctions) distinct), \(formatCount(flops)) FLOPs
        patterns: \(patternText.isEmpty ? "none" : patternText)
        arena: \(formatBytes(arenaBytes)) (live lower bound \(formatBytes(liveBytesLowerBound))), \(weights) weights
        module: \(compileText) → \(output.map { $0 + "/module.so" } ?? module)
      """
  }

  var kernelTable: String {
    let nameWidth = max(6, kernels.map(\.name.count).max() ?? 0)
    let templateWidth = max(8, kernels.map(\.template.count).max() ?? 0)
    func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
    func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
    var lines = [pad("kernel", nameWidth) + "  " + pad("template", templateWidth) + "  " + right("FLOPs", 10) + "  " + right("bytes", 11) + "  scopes"]
    for kernel in kernels {
      lines.append(
        pad(kernel.name, nameWidth) + "  " + pad(kernel.template, templateWidth) + "  " + right(formatCount(kernel.flops), 10) + "  "
          + right(formatBytes(kernel.bytes), 11) + "  " + kernel.scopes.joined(separator: ", "))
    }
    return lines.joined(separator: "\n")
  }
}
