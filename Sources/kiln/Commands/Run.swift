import ArgumentParser
import Codegen
import Foundation
import Runtime
import Tracer

/// `kiln run MODEL [--executor compiled|naive|eager-blas|all] …`: one forward pass (one denoising
/// step) on each chosen executor, timed, compared and optionally checked against the reference.
struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run one forward pass of a model on one or more executors and time it.",
    discussion: """
      Each executor runs once to warm up, then --repeat times; the time shown is the median. Without \
      --weights the model runs on seeded weights; without --inputs on seeded inputs: latents N(0,1), \
      timestep 500 (0.5 for the flow-matching mmdit and video-dit), guidance 3.5, class labels and \
      token ids drawn within their embedding table, text embeddings N(0, 0.1²). --check prints the \
      relative error between executors and, for graphs of at most \(Run.referenceMACLimit / 1_000_000) M MACs, \
      against the Double reference interpreter.
      """)

  /// Graphs up to this many multiply-accumulates are checked against the reference interpreter.
  static let referenceMACLimit = 50_000_000

  enum ExecutorChoice: String, ExpressibleByArgument, CaseIterable {
    case compiled, naive, eagerBLAS = "eager-blas", all

    var executors: [ExecutorChoice] { self == .all ? [.compiled, .naive, .eagerBLAS] : [self] }
  }

  @Argument(help: "A model such as dit-xl-2 (see `kiln models`), or a graph file written by `kiln trace -o graph.json`.")
  var model: String

  @OptionGroup var modelOptions: ModelOptions

  @Option(help: "A safetensors file or a diffusers model folder (its config.json sets the model's settings).")
  var weights: String?

  @Option(help: "compiled, naive, eager-blas or all.")
  var executor: ExecutorChoice = .compiled

  @Option(help: "Team size (default: one thread per CPU).")
  var threads: Int?

  @Option(help: "NUMA policy of the compiled and naive executors: local, interleave or replicate.")
  var numa: NUMAPolicy = .local

  @Option(help: "A topology JSON file to place threads and memory by, instead of this machine's.")
  var topology: String?

  @Option(help: "Hardware profile of the compiled and naive executors: native or a built-in name.")
  var profile = HardwareProfile.nativeName

  @Option(help: "A safetensors file holding the graph's inputs by name.")
  var inputs: String?

  @Option(help: "Write every output of the first executor into this safetensors file.")
  var outputs: String?

  @Option(name: .customLong("save-inputs"), help: "Write the inputs used (seeded or read) into this safetensors file.")
  var saveInputs: String?

  @Option(name: .customLong("save-weights"), help: "Write the weights used (seeded or read) into this safetensors file.")
  var saveWeights: String?

  @Flag(help: "Print relative errors between executors (and against the reference for small graphs).")
  var check = false

  @Flag(help: "Print the results as JSON.")
  var json = false

  @Option(name: .customLong("repeat"), help: "Timed runs per executor, after one warm-up.")
  var repetitions = 5

  func validate() throws {
    guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1, got \(repetitions)") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
  }

  func run() throws {
    let runnable = try RunnableModel(model, options: modelOptions, weightsPath: weights)
    let graph = try runnable.graph.optimized()
    let machine = try topology.map { try Topology(contentsOf: URL(fileURLWithPath: $0)) } ?? Topology.current()
    let teamSize = threads ?? machine.cpuCount
    let feeds = try inputs.map { try Self.readInputs(of: graph, from: URL(fileURLWithPath: $0)) }
      ?? SeededInputs.make(for: graph, seed: 0, timestep: runnable.seededTimestep)

    if let saveInputs {
      try writeSafetensors(feeds.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: URL(fileURLWithPath: saveInputs))
    }

    if let saveWeights {
      try writeSafetensors(runnable.weights.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: URL(fileURLWithPath: saveWeights))
    }

    var results: [(name: String, measurement: ForwardMeasurement)] = []
    var openBLAS: String?
    for choice in executor.executors {
      let measurement: ForwardMeasurement
      do {
        // Built and dropped one at a time: only one executor's weights and arena are alive at once.
        let built = try makeExecutor(choice, graph: graph, name: runnable.title, weights: runnable.weights, threads: teamSize,
                                     topology: machine)
        measurement = try ForwardMeasurement.measure(built, inputs: feeds, repetitions: repetitions)
        if let eager = built as? EagerBLASExecutor { openBLAS = eager.blas.summary }
      }
      results.append((choice.rawValue, measurement))
    }

    if let outputs, let first = results.first {
      try writeSafetensors(first.measurement.outputs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: URL(fileURLWithPath: outputs))
    }
    var errors: [(pair: String, value: Double)] = []
    if check {
      for (i, a) in results.enumerated() {
        for b in results[(i + 1)...] {
          errors.append(("\(a.name)~\(b.name)", try OutputComparison.relativeError(a.measurement.outputs, reference: b.measurement.outputs)))
        }
      }
      if GraphStatistics(graph).macs <= Self.referenceMACLimit {
        let reference = try Self.reference(graph, inputs: feeds, weights: runnable.weights)
        for result in results {
          errors.append(("\(result.name)~reference", try OutputComparison.relativeError(result.measurement.outputs, reference: reference)))
        }
      }
    }

    let report = RunReport(
      model: runnable.title, weights: runnable.weightsOrigin, threads: teamSize, numa: numa.rawValue, repeat: repetitions,
      flops: GraphStatistics(graph).flops, openBLAS: openBLAS,
      executors: Dictionary(uniqueKeysWithValues: results.map {
        ($0.name, RunReport.Timing(ms: $0.measurement.medianSeconds * 1e3, samplesMs: $0.measurement.samples.map { $0 * 1e3 }))
      }),
      order: results.map(\.name),
      speedups: Self.speedups(results.map { ($0.name, $0.measurement.medianSeconds) }),
      relError: Dictionary(uniqueKeysWithValues: errors.map { ($0.pair, $0.value) }))
    if json {
      try printJSON(report)
    } else {
      print(report.text(ignoredWeights: runnable.ignoredWeights, outputs: outputs))
    }
  }

  private func makeExecutor(
    _ choice: ExecutorChoice, graph: Graph, name: String, weights: [String: RuntimeTensor], threads: Int,
    topology: Topology
  ) throws -> any Executor {
    switch choice {
    case .compiled, .naive:
      let program = try Lowering.lower(graph: graph, profile: HardwareProfile.named(profile),
                                       mode: choice == .naive ? .naive : .compiled, name: ModuleName.sanitized(name))
      return try CompiledExecutor(program: program, weights: weights, threads: threads, policy: numa, topology: topology)
    case .eagerBLAS:
      return try EagerBLASExecutor(graph: graph, weights: weights, threads: threads)
    case .all:
      throw ValidationError("--executor all names several executors")
    }
  }

  /// Every input of `graph` from a safetensors file, checked by name, shape and dtype.
  static func readInputs(of graph: Graph, from url: URL) throws -> [String: RuntimeTensor] {
    let file = try SafetensorsFile(contentsOf: url)
    var feeds: [String: RuntimeTensor] = [:]
    for (name, node) in graph.inputs where feeds[name] == nil {
      guard file.entries[name] != nil else {
        throw RuntimeError.invalidFeed("--inputs: \(url.lastPathComponent) has no tensor '\(name)', an input of the model")
      }
      var tensor = try file.tensor(named: name)
      let needed = graph[node]
      guard tensor.shape == needed.shape else {
        throw RuntimeError.invalidFeed("--inputs: tensor '\(name)' has shape \(tensor.shape), the model needs \(needed.shape)")
      }
      if needed.dtype == .i32, case .f32(let values) = tensor.storage {
        throw RuntimeError.invalidFeed("--inputs: tensor '\(name)' is f32 (first value \(values.first ?? 0)), the model needs i32 indices")
      }
      if needed.dtype != .i32, case .i32(let values) = tensor.storage {
        tensor = try RuntimeTensor(shape: tensor.shape, storage: .f32(values.map(Float.init)))
      }
      feeds[name] = tensor
    }
    return feeds
  }

  /// The Double reference interpreter's outputs on the same inputs and weights.
  static func reference(_ graph: Graph, inputs: [String: RuntimeTensor], weights: [String: RuntimeTensor]) throws
    -> [String: (shape: Shape, values: [Double])]
  {
    func host(_ tensor: RuntimeTensor) throws -> HostTensor { try HostTensor(shape: tensor.shape, values: tensor.floats.map(Double.init)) }
    let outputs = try ReferenceInterpreter.evaluate(graph, inputs: inputs.mapValues(host), params: weights.mapValues(host))
    return outputs.mapValues { (shape: $0.shape, values: $0.values) }
  }

  /// `a/b`: how many times faster a is than b (b's median over a's), for every ordered pair.
  static func speedups(_ medians: [(name: String, seconds: Double)]) -> [String: Double] {
    var speedups: [String: Double] = [:]
    for a in medians {
      for b in medians where a.name != b.name { speedups["\(a.name)/\(b.name)"] = b.seconds / a.seconds }
    }
    return speedups
  }
}

/// What `kiln run` reports, as text or JSON.
private struct RunReport: Encodable {
  struct Timing: Encodable {
    let ms: Double
    let samplesMs: [Double]
  }

  let model: String
  let weights: String
  let threads: Int
  let numa: String
  let `repeat`: Int
  /// FLOPs of one forward pass (as `kiln show` counts them).
  let flops: Int
  /// Which OpenBLAS core type the eager-blas executor used, and who chose it.
  let openBLAS: String?
  /// Executor name → median milliseconds (and every sample).
  let executors: [String: Timing]
  /// The executors in the order they ran.
  let order: [String]
  /// `a/b` → how many times faster a ran than b.
  let speedups: [String: Double]
  /// `a~b` → ‖a − b‖ / ‖b‖ over every output; `~reference` is the Double reference interpreter.
  let relError: [String: Double]

  func text(ignoredWeights: String?, outputs: String?) -> String {
    var lines = ["\(model): one forward pass, \(weights), \(threads) thread\(threads == 1 ? "" : "s"), numa \(numa), median of \(`repeat`)"]
    if let ignoredWeights { lines.append("  weights: \(ignoredWeights)") }
    let width = order.map(\.count).max() ?? 0
    for name in order {
      guard let timing = executors[name] else { continue }
      var line = "  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %10.3f ms", timing.ms)
        + String(format: "  %7.1f GFLOP/s", Double(flops) / (timing.ms * 1e6))
      if let first = order.first, name != first, let ratio = speedups["\(first)/\(name)"] {
        line += ratio >= 1
          ? "   \(first) is " + String(format: "%.2f", ratio) + "× faster"
          : "   \(first) is " + String(format: "%.2f", 1 / ratio) + "× slower"
      }
      lines.append(line)
    }
    if let openBLAS { lines.append("  eager-blas: \(openBLAS)") }
    for (pair, error) in relError.sorted(by: { $0.key < $1.key }) {
      lines.append("  rel. error " + pair.replacingOccurrences(of: "~", with: " vs ") + String(format: ": %.3e", error))
    }
    if let outputs, let first = order.first { lines.append("  outputs of \(first) → \(outputs)") }
    return lines.joined(separator: "\n")
  }
}
