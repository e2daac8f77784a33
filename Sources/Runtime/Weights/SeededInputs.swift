import Foundation
import Tracer

/// Deterministic inputs for running a model once without real data. The rules, by input:
/// - i32 inputs (class labels, token ids): uniform over the rows of the embedding table they
///   index (followed through shape ops to a `gather`), 0 when they index none;
/// - `timestep`: the caller's value for every batch entry (500 for a DDPM model, 0.5 for a
///   flow-matching one: the middle of the schedule);
/// - `guidance`: 3.5, a typical distilled guidance scale;
/// - conditioning (a name with `text`, `encoder` or `pooled`): small, N(0, 0.1²);
/// - everything else (latents, image tokens, caches): N(0, 1).
public enum SeededInputs {
  public static let guidanceScale: Float = 3.5
  public static let conditioningDeviation: Float = 0.1

  public static func make(for graph: Graph, seed: UInt64, timestep: Float) throws(RuntimeError) -> [String: RuntimeTensor] {
    let users = graph.users()
    var inputs: [String: RuntimeTensor] = [:]
    for (name, id) in graph.inputs where inputs[name] == nil {
      let node = graph[id]
      var generator = SeededGenerator(seed: seed, name: name)
      let count = node.shape.elementCount
      switch node.dtype {
      case .i32:
        let rows = indexedRows(of: id, in: graph, users: users) ?? 1
        let values = (0..<count).map { _ in Int32(truncatingIfNeeded: generator.next() % UInt64(max(rows, 1))) }
        inputs[name] = try RuntimeTensor(shape: node.shape, storage: .i32(values))
      case .f32, .f16, .bf16:
        let values: [Float]
        if name == "timestep" {
          values = [Float](repeating: timestep, count: count)
        } else if name == "guidance" {
          values = [Float](repeating: guidanceScale, count: count)
        } else {
          let lowered = name.lowercased()
          let isConditioning = ["text", "encoder", "pooled"].contains { lowered.contains($0) }
          let deviation: Float = isConditioning ? conditioningDeviation : 1
          values = (0..<count).map { _ in deviation * generator.nextNormal() }
        }
        inputs[name] = try RuntimeTensor(shape: node.shape, storage: .f32(values))
      }
    }
    return inputs
  }

  /// The row count of the first table `node` indexes, following it through shape ops.
  static func indexedRows(of node: Int, in graph: Graph, users: [[Int]]) -> Int? {
    var pending = [node]
    var seen = Set<Int>()
    while let current = pending.popLast() {
      guard seen.insert(current).inserted else { continue }
      for user in users[current] {
        let op = graph[user].op
        if case .gather = op, graph[user].operands.count == 2, graph[user].operands[1] == current {
          return graph[graph[user].operands[0]].shape.dims.first
        }
        if op.isShapeOp { pending.append(user) }
      }
    }
    return nil
  }
}

extension SeededGenerator {
  /// A standard normal draw (Box–Muller over two uniform draws in (0, 1]).
  mutating func nextNormal() -> Float {
    let u1 = (Double(next() >> 11) + 1) / Double(1 << 53)
    let u2 = Double(next() >> 11) / Double(1 << 53)
    return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
  }
}
