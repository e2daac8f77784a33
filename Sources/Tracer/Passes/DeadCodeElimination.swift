extension Graph {
  /// Drops every node no output depends on, renumbering the rest in their original order.
  ///
  /// Input leaves stay even when unused: they are the graph's calling signature, and a caller that
  /// feeds an input by name should not find it gone after optimization. Unused params and
  /// constants go (a weight the graph does not read need not be loaded). Expects a graph that
  /// passes `verify()` (`optimized()` checks it first).
  public func eliminatingDeadCode() -> Graph {
    var live = [Bool](repeating: false, count: nodes.count)
    for output in outputs { live[output.node] = true }
    for id in nodes.indices.reversed() where live[id] {
      for operand in nodes[id].operands { live[operand] = true }
    }
    for input in inputs { live[input.node] = true }
    return keeping(live)
  }

  /// The subgraph of the nodes marked in `keep` (closed under operands), renumbered densely.
  func keeping(_ keep: [Bool]) -> Graph {
    var newID = [Int](repeating: -1, count: nodes.count)
    var kept: [Node] = []
    for (id, node) in nodes.enumerated() where keep[id] {
      var copy = node
      copy.operands = node.operands.map { newID[$0] }
      newID[id] = kept.count
      kept.append(copy)
    }
    return Graph(nodes: kept, outputs: outputs.map { GraphOutput(name: $0.name, node: newID[$0.node]) })
  }
}
