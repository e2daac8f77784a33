extension Graph {
  /// Rewrites the graph into one normal form, so that matchers and later passes meet one spelling
  /// of each computation. Every rule keeps the value of every output (the scaling rules up to one
  /// rounding: `x·(1/c)` for `x/c`). The rules, applied to each node in order, after its operands:
  ///
  /// 1. `reshape(reshape(x))` → `reshape(x)`: only the final shape of a reshape matters.
  /// 2. `reshape(x)` to x's own shape → `x`.
  /// 3. `permute(permute(x, p), q)` → `permute(x, r)` with `r[i] = p[q[i]]`.
  /// 4. `permute(x, identity)` → `x`.
  /// 5. `expand(expand(x))` → `expand(x)`: broadcasting composes.
  /// 6. `expand(x)` to x's own shape → `x`.
  /// 7. `slice(x)` covering the whole axis → `x`.
  /// 8. A commutative binary op (add, mul, max, min) with a constant first operand and a
  ///    non-constant second swaps them, so the constant is always second.
  /// 9. `x / c` with `c` a one-element constant → `x * c'`, `c' = 1/c` (when finite), and
  ///    `x - c` → `x + c'`, `c' = -c`: scaling and shifting by a constant each have one form.
  ///
  /// Nodes the rewrites leave unused are then dropped (`eliminatingDeadCode`). Expects a graph that
  /// passes `verify()`; the result passes it too.
  public func canonicalized() -> Graph {
    var rewriter = CanonicalRewriter()
    var newID = [Int](repeating: -1, count: nodes.count)
    for (id, node) in nodes.enumerated() {
      var copy = node
      copy.operands = node.operands.map { newID[$0] }
      newID[id] = rewriter.add(copy)
    }
    let rewritten = Graph(nodes: rewriter.nodes,
                          outputs: outputs.map { GraphOutput(name: $0.name, node: newID[$0.node]) })
    return rewritten.eliminatingDeadCode()
  }
}

/// Builds the canonical graph node by node; `add` returns the id that now stands for the node.
private struct CanonicalRewriter {
  var nodes: [Node] = []

  mutating func add(_ node: Node) -> Int {
    switch node.op {
    case .reshape:
      let source = sourceSkipping(node.operands[0]) { if case .reshape = $0 { return true } else { return false } }
      if nodes[source].shape == node.shape { return source }
      return append(node, operands: [source])

    case .permute(let order):
      var (source, composed) = (node.operands[0], order)
      if case .permute(let inner) = nodes[source].op {
        composed = order.map { inner[$0] }
        source = nodes[source].operands[0]
      }
      if composed == Array(0..<composed.count) { return source }
      var folded = node
      folded.op = .permute(composed)
      return append(folded, operands: [source])

    case .expand:
      let source = sourceSkipping(node.operands[0]) { if case .expand = $0 { return true } else { return false } }
      if nodes[source].shape == node.shape { return source }
      return append(node, operands: [source])

    case .slice(let axis, let start, let end):
      let input = nodes[node.operands[0]].shape
      if let resolved = input.normalizedAxis(axis), start == 0, end == input[resolved] { return node.operands[0] }
      return append(node, operands: node.operands)

    case .binary(let op):
      return addBinary(op, node)

    default:
      return append(node, operands: node.operands)
    }
  }

  private mutating func addBinary(_ op: BinaryOp, _ node: Node) -> Int {
    var (a, b) = (node.operands[0], node.operands[1])
    if op.isCommutative, isConstant(a), !isConstant(b) { swap(&a, &b) }
    if op == .div || op == .sub, let c = scalarConstant(b) {
      let folded = op == .div ? 1 / c : -c
      if folded.isFinite {
        let constant = nodes[b]
        let replacement = append(Node(op: .constant(.splat(folded)), operands: [], shape: constant.shape,
                                      dtype: constant.dtype, scope: node.scope), operands: [])
        var scaled = node
        scaled.op = .binary(op == .div ? .mul : .add)
        return append(scaled, operands: [a, replacement])
      }
    }
    return append(node, operands: [a, b])
  }

  /// Follows a chain of ops that `isFolded` accepts down to the first value that is not one.
  private func sourceSkipping(_ start: Int, _ isFolded: (Op) -> Bool) -> Int {
    var source = start
    while isFolded(nodes[source].op) { source = nodes[source].operands[0] }
    return source
  }

  private func isConstant(_ id: Int) -> Bool {
    if case .constant = nodes[id].op { return true }
    return false
  }

  /// The value of a one-element constant, nil for anything else.
  private func scalarConstant(_ id: Int) -> Double? {
    guard case .constant(let value) = nodes[id].op, nodes[id].shape.elementCount == 1 else { return nil }
    return value.value(at: 0)
  }

  private mutating func append(_ node: Node, operands: [Int]) -> Int {
    var copy = node
    copy.operands = operands
    nodes.append(copy)
    return nodes.count - 1
  }
}
