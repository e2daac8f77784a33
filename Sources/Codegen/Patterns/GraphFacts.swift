import Foundation
import Tracer

/// What matchers ask of a graph: users of each node, which nodes are scalar constants (folded
/// through pointwise ops on constants), and whether a candidate region hides no value someone
/// else reads. Only ops, shapes and data flow are consulted — never scopes or parameter names.
public struct GraphFacts: Sendable {
  public let graph: Graph
  /// For each node, the nodes that read it (repeats when a node reads an operand twice).
  public let users: [[Int]]
  /// Nodes the graph returns: their values must be materialized whatever a match covers.
  public let outputNodes: Set<Int>
  private let scalars: [Double?]

  public init(_ graph: Graph) {
    self.graph = graph
    self.users = graph.users()
    self.outputNodes = Set(graph.outputs.map(\.node))
    var scalars = [Double?](repeating: nil, count: graph.nodes.count)
    for (id, node) in graph.nodes.enumerated() {
      scalars[id] = GraphFacts.foldScalar(node, known: scalars)
    }
    self.scalars = scalars
  }

  public subscript(id: Int) -> Node { graph.nodes[id] }

  /// The value of a node whose every element is the same compile-time number: a splat constant,
  /// a one-element constant, or a pointwise op of such nodes (`sqrt(64)`, `1 / 8`).
  public func scalarValue(_ id: Int) -> Double? { scalars[id] }

  /// Users of `id` without repeats.
  public func distinctUsers(_ id: Int) -> Set<Int> { Set(users[id]) }

  /// True when `id` has exactly the single (distinct) user `user` and is not a graph output.
  public func feedsOnly(_ id: Int, into user: Int) -> Bool {
    !outputNodes.contains(id) && distinctUsers(id) == [user]
  }

  /// True when every node of `region` other than `output` is read only inside the region and is
  /// not a graph output, so a kernel computing `region` need not materialize any of them.
  public func isClosed(_ region: Set<Int>, output: Int) -> Bool {
    for id in region where id != output {
      if outputNodes.contains(id) { return false }
      if !users[id].allSatisfy(region.contains) { return false }
    }
    return true
  }

  /// The values a kernel computing `region` reads from outside it, in increasing id order.
  public func externalOperands(of region: Set<Int>) -> [Int] {
    var operands = Set<Int>()
    for id in region {
      for operand in graph.nodes[id].operands where !region.contains(operand) { operands.insert(operand) }
    }
    return operands.sorted()
  }

  /// The operand of binary `node` that is not `id`, when `id` is one of its operands.
  func other(than id: Int, in node: Node) -> Int? {
    guard node.operands.count == 2 else { return nil }
    if node.operands[0] == id { return node.operands[1] }
    if node.operands[1] == id { return node.operands[0] }
    return nil
  }

  /// The axis of a reduction, resolved to a non-negative index against its input's rank.
  func resolvedReduceAxis(_ id: Int) -> (op: ReduceOp, axis: Int, input: Int)? {
    let node = graph.nodes[id]
    guard case .reduce(let op, let axis) = node.op, let input = node.operands.first,
          let resolved = graph.nodes[input].shape.normalizedAxis(axis) else { return nil }
    return (op, resolved, input)
  }

  /// True when `id` reduces over the last axis of its input.
  func reducesLastAxis(_ id: Int, _ op: ReduceOp) -> Int? {
    guard let reduction = resolvedReduceAxis(id), reduction.op == op else { return nil }
    return reduction.axis == graph.nodes[reduction.input].shape.rank - 1 ? reduction.input : nil
  }

  private static func foldScalar(_ node: Node, known: [Double?]) -> Double? {
    switch node.op {
    case .constant(.splat(let value)):
      return value
    case .constant(let value) where node.shape.elementCount == 1:
      return value.value(at: 0)
    case .unary(let op):
      return known[node.operands[0]].flatMap { ScalarEvaluator.apply(op, $0) }
    case .binary(let op):
      guard let a = known[node.operands[0]], let b = known[node.operands[1]] else { return nil }
      return ScalarEvaluator.apply(op, a, b)
    case .reshape, .permute, .expand, .slice:
      return known[node.operands[0]]
    default:
      return nil
    }
  }
}

/// Evaluates pointwise primitives on one scalar, as the fingerprinting of activation functions
/// and the folding of constant scales need.
enum ScalarEvaluator {
  static func apply(_ op: UnaryOp, _ x: Double) -> Double? {
    let result: Double
    switch op {
    case .neg: result = -x
    case .exp: result = Foundation.exp(x)
    case .log: result = Foundation.log(x)
    case .sqrt: result = x.squareRoot()
    case .rsqrt: result = 1 / x.squareRoot()
    case .tanh: result = Foundation.tanh(x)
    case .erf: result = Foundation.erf(x)
    case .sigmoid: result = 1 / (1 + Foundation.exp(-x))
    case .sin: result = Foundation.sin(x)
    case .cos: result = Foundation.cos(x)
    case .reciprocal: result = 1 / x
    }
    return result.isFinite ? result : nil
  }

  static func apply(_ op: BinaryOp, _ a: Double, _ b: Double) -> Double? {
    let result: Double
    switch op {
    case .add: result = a + b
    case .sub: result = a - b
    case .mul: result = a * b
    case .div: result = a / b
    case .max: result = Swift.max(a, b)
    case .min: result = Swift.min(a, b)
    case .pow: result = Foundation.pow(a, b)
    }
    return result.isFinite ? result : nil
  }
}
