/// One SSA value: an op applied to earlier nodes' results. Its id is its index in `Graph.nodes`.
public struct Node: Hashable, Sendable {
  public var op: Op
  public var operands: [Int]
  public var shape: Shape
  public var dtype: DType
  /// Where the node was traced (`transformer_blocks.3.attn1`): for reports and debugging only;
  /// no pass or matcher may read it.
  public var scope: String

  public init(op: Op, operands: [Int], shape: Shape, dtype: DType, scope: String = "") {
    self.op = op
    self.operands = operands
    self.shape = shape
    self.dtype = dtype
    self.scope = scope
  }
}

/// A named result of the graph.
public struct GraphOutput: Hashable, Sendable {
  public var name: String
  public var node: Int

  public init(name: String, node: Int) {
    self.name = name
    self.node = node
  }
}

/// A traced program: nodes in SSA order (every operand id is smaller than its user's id),
/// static shapes, and named outputs.
public struct Graph: Hashable, Sendable {
  public var nodes: [Node]
  public var outputs: [GraphOutput]

  public init(nodes: [Node] = [], outputs: [GraphOutput] = []) {
    self.nodes = nodes
    self.outputs = outputs
  }

  public subscript(id: Int) -> Node { nodes[id] }

  /// Input leaves in graph order: (name, node id).
  public var inputs: [(name: String, node: Int)] {
    nodes.indices.compactMap { id in
      if case .input(let name) = nodes[id].op { return (name, id) }
      return nil
    }
  }

  /// Parameter leaves in graph order: (checkpoint name, node id).
  public var params: [(name: String, node: Int)] {
    nodes.indices.compactMap { id in
      if case .param(let name) = nodes[id].op { return (name, id) }
      return nil
    }
  }

  /// For each node, the ids of the nodes that read it (in increasing order, with repeats when a
  /// node reads the same operand twice).
  public func users() -> [[Int]] {
    var users = [[Int]](repeating: [], count: nodes.count)
    for (id, node) in nodes.enumerated() {
      for operand in node.operands { users[operand].append(id) }
    }
    return users
  }
}
