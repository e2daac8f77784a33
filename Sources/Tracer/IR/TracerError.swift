/// Everything that can go wrong while tracing, reading, verifying or interpreting a graph.
/// Each case renders as one line a user can act on.
public enum TracerError: Error, Equatable, CustomStringConvertible, Sendable {
  /// An op was given operands it cannot take (shapes, ranks, dtypes, attributes).
  case invalidOp(node: Int?, scope: String, message: String)
  /// A graph broke an IR invariant (SSA order, a dangling operand, a declared shape that disagrees).
  case invalidGraph(String)
  /// A serialized graph could not be read; `field` is a path such as `nodes[12].operands[0]`.
  case malformedJSON(field: String, message: String)
  /// The interpreter was missing something it needs to evaluate the graph.
  case missingValue(String)

  public var description: String {
    switch self {
    case .invalidOp(let node, let scope, let message):
      let location = [node.map { "node \($0)" }, scope.isEmpty ? nil : "in '\(scope)'"].compactMap { $0 }
      return location.isEmpty ? message : location.joined(separator: " ") + ": " + message
    case .invalidGraph(let message):
      return "invalid graph: " + message
    case .malformedJSON(let field, let message):
      return field.isEmpty ? "graph JSON: \(message)" : "graph JSON: \(field): \(message)"
    case .missingValue(let message):
      return message
    }
  }
}
