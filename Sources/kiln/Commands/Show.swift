import ArgumentParser
import Foundation
import Tracer

/// `kiln show MODEL|graph.json`: what a graph costs.
struct Show: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a graph's ops by kind, parameters, MACs, FLOPs, bytes and arithmetic intensity.")

  @Argument(help: "A model such as dit-xl-2 (see `kiln models`), or a graph file from `kiln trace -o`.")
  var model: String

  @OptionGroup var modelOptions: ModelOptions

  @Flag(help: "Print JSON instead of text.") var json = false

  struct Report: Encodable {
    struct Value: Encodable {
      let name: String
      let shape: [Int]
      let dtype: String
    }
    let model: String
    let nodes: Int
    let ops: [String: Int]
    let params: Int
    let macs: Int
    let flops: Int
    let weightBytes: Int
    let inputBytes: Int
    let outputBytes: Int
    let activationBytes: Int
    let arithmeticIntensity: Double
    let unfusedArithmeticIntensity: Double
    let inputs: [Value]
    let outputs: [Value]
  }

  func run() throws {
    let source = try GraphSource(model, options: modelOptions)
    let graph = source.graph
    let s = GraphStatistics(graph)
    func value(_ name: String, _ id: Int) -> Report.Value {
      Report.Value(name: name, shape: graph[id].shape.dims, dtype: graph[id].dtype.rawValue)
    }
    let report = Report(
      model: source.title, nodes: s.nodes, ops: s.ops, params: s.params, macs: s.macs, flops: s.flops,
      weightBytes: s.weightBytes, inputBytes: s.inputBytes, outputBytes: s.outputBytes,
      activationBytes: s.activationBytes, arithmeticIntensity: s.arithmeticIntensity,
      unfusedArithmeticIntensity: s.unfusedArithmeticIntensity,
      inputs: graph.inputs.map { value($0.name, $0.node) },
      outputs: graph.outputs.map { value($0.name, $0.node) })
    if json { return try printJSON(report) }
    print(text(report))
  }

  private func text(_ r: Report) -> String {
    func signature(_ values: [Report.Value]) -> String {
      values.map { "\($0.name) \($0.dtype)\(Shape($0.shape))" }.joined(separator: ", ")
    }
    let ops = r.ops.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
      .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    return """
      \(r.model)
        inputs        \(signature(r.inputs))
        outputs       \(signature(r.outputs))
        parameters    \(formatCount(r.params))  (\(formatBytes(r.weightBytes)))
        MACs          \(formatCount(r.macs))
        FLOPs         \(formatCount(r.flops))
        activations   \(formatBytes(r.activationBytes)) written unfused
        intensity     \(String(format: "%.1f", r.arithmeticIntensity)) FLOP/byte compulsory, \
      \(String(format: "%.1f", r.unfusedArithmeticIntensity)) unfused
        nodes         \(r.nodes): \(ops)
      """
  }
}
