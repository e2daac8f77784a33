extension Graph {
  /// Merges nodes that compute the same value: the same op with the same attributes applied to the
  /// same (already merged) operands, with the same shape and dtype. Leaves merge too: equal
  /// constants, two reads of one param name, two reads of one input name. The first occurrence is
  /// kept; its scope is the one reports show. Nothing is dropped: merged-away users leave their
  /// operands to `eliminatingDeadCode`. Expects a graph that passes `verify()`.
  public func eliminatingCommonSubexpressions() -> Graph {
    var representative: [ValueKey: Int] = [:]
    var newID = [Int](repeating: -1, count: nodes.count)
    var merged: [Node] = []
    for (id, node) in nodes.enumerated() {
      var copy = node
      copy.operands = node.operands.map { newID[$0] }
      let key = ValueKey(copy)
      if let existing = representative[key] {
        newID[id] = existing
      } else {
        newID[id] = merged.count
        representative[key] = merged.count
        merged.append(copy)
      }
    }
    return Graph(nodes: merged, outputs: outputs.map { GraphOutput(name: $0.name, node: newID[$0.node]) })
  }
}

/// What identifies a node's value, scope aside. Constants are also keyed by the bit patterns of
/// their values, because `Double`'s equality would merge `0.0` with `-0.0` (and `1/x` tells them apart).
private struct ValueKey: Hashable {
  var op: Op
  var constantBits: [UInt64]
  var operands: [Int]
  var shape: Shape
  var dtype: DType

  init(_ node: Node) {
    op = node.op
    operands = node.operands
    shape = node.shape
    dtype = node.dtype
    switch node.op {
    case .constant(.splat(let value)): constantBits = [0, value.bitPattern]
    case .constant(.arange(let start, let step)): constantBits = [1, start.bitPattern, step.bitPattern]
    case .constant(.dense(let values)): constantBits = [2] + values.map(\.bitPattern)
    default: constantBits = []
    }
  }
}
