/// Evaluates any graph in Double precision: the oracle every numerical test in Kiln compares
/// against. Slow by design (one primitive at a time, no fusion), meant for small shapes.
public enum ReferenceInterpreter {
  /// The graph's named outputs. Only the nodes the outputs depend on are evaluated, and each value
  /// is freed after its last use.
  public static func evaluate(_ graph: Graph, inputs: [String: HostTensor],
                              params: [String: HostTensor]) throws(TracerError) -> [String: HostTensor] {
    try graph.verify()
    let lastUse = lastUses(in: graph)
    var values = [[Double]?](repeating: nil, count: graph.nodes.count)
    for id in graph.nodes.indices where lastUse[id] != nil {
      values[id] = try evaluateNode(id, of: graph, values: values, inputs: inputs, params: params)
      for operand in graph.nodes[id].operands where lastUse[operand] == id { values[operand] = nil }
    }
    var outputs: [String: HostTensor] = [:]
    for output in graph.outputs {
      guard let value = values[output.node] else {
        throw TracerError.invalidGraph("output '\(output.name)' (node \(output.node)) was not evaluated")
      }
      outputs[output.name] = HostTensor(unchecked: graph.nodes[output.node].shape, value)
    }
    return outputs
  }

  /// Every node's value, in node order (for tests that look inside a graph).
  public static func evaluateAll(_ graph: Graph, inputs: [String: HostTensor],
                                 params: [String: HostTensor]) throws(TracerError) -> [HostTensor] {
    try graph.verify()
    var values = [[Double]?](repeating: nil, count: graph.nodes.count)
    var tensors: [HostTensor] = []
    tensors.reserveCapacity(graph.nodes.count)
    for id in graph.nodes.indices {
      let value = try evaluateNode(id, of: graph, values: values, inputs: inputs, params: params)
      values[id] = value
      tensors.append(HostTensor(unchecked: graph.nodes[id].shape, value))
    }
    return tensors
  }

  /// For each node, the id of the last node that reads it (`Int.max` for outputs), or nil when no
  /// output depends on it.
  static func lastUses(in graph: Graph) -> [Int?] {
    var lastUse = [Int?](repeating: nil, count: graph.nodes.count)
    for output in graph.outputs { lastUse[output.node] = Int.max }
    for id in graph.nodes.indices.reversed() where lastUse[id] != nil {
      for operand in graph.nodes[id].operands where lastUse[operand] == nil { lastUse[operand] = id }
    }
    return lastUse
  }

  private static func evaluateNode(_ id: Int, of graph: Graph, values: [[Double]?], inputs: [String: HostTensor],
                                   params: [String: HostTensor]) throws(TracerError) -> [Double] {
    let node = graph.nodes[id]
    func operand(_ position: Int) throws(TracerError) -> [Double] {
      guard let value = values[node.operands[position]] else {
        throw TracerError.invalidGraph("node \(id) reads node \(node.operands[position]), which has no value")
      }
      return value
    }
    func operandShape(_ position: Int) -> Shape { graph.nodes[node.operands[position]].shape }
    func resolved(_ axis: Int, _ shape: Shape) -> Int { axis < 0 ? axis + shape.rank : axis }

    switch node.op {
    case .input(let name):
      return try supplied(inputs[name], kind: "input", name: name, node: node, id: id)
    case .param(let name):
      return try supplied(params[name], kind: "param", name: name, node: node, id: id)
    case .constant(let constant):
      return (0..<node.shape.elementCount).map(constant.value(at:))
    case .unary(let op):
      return ReferenceKernels.unary(op, try operand(0))
    case .binary(let op):
      return ReferenceKernels.binary(op, try operand(0), operandShape(0), try operand(1), operandShape(1), result: node.shape)
    case .reduce(let op, let axis):
      return ReferenceKernels.reduce(op, try operand(0), shape: operandShape(0), axis: resolved(axis, operandShape(0)))
    case .matmul:
      return ReferenceKernels.matmul(try operand(0), operandShape(0), try operand(1), operandShape(1), result: node.shape)
    case .reshape:
      return try operand(0)
    case .permute(let order):
      return ReferenceKernels.permute(try operand(0), shape: operandShape(0), order: order)
    case .slice(let axis, let start, let end):
      return ReferenceKernels.slice(try operand(0), shape: operandShape(0), axis: resolved(axis, operandShape(0)),
                                    start: start, end: end)
    case .concat(let axis):
      var parts: [(values: [Double], shape: Shape)] = []
      for position in node.operands.indices { parts.append((try operand(position), operandShape(position))) }
      return ReferenceKernels.concat(parts, axis: resolved(axis, node.shape), result: node.shape)
    case .expand:
      return ReferenceKernels.broadcast(try operand(0), from: operandShape(0), to: node.shape)
    case .conv2d(let attributes):
      return ReferenceKernels.conv2d(try operand(0), operandShape(0), try operand(1), operandShape(1), attributes,
                                     result: node.shape)
    case .upsampleNearest(let scale):
      return ReferenceKernels.upsampleNearest(try operand(0), shape: operandShape(0), scale: scale)
    case .gather:
      return try gather(table: try operand(0), shape: operandShape(0), indices: try operand(1), node: node, id: id)
    }
  }

  private static func supplied(_ tensor: HostTensor?, kind: String, name: String, node: Node,
                               id: Int) throws(TracerError) -> [Double] {
    guard let tensor else {
      throw TracerError.missingValue("\(kind) '\(name)' (node \(id), \(node.dtype.rawValue)\(node.shape)) was not supplied")
    }
    guard tensor.shape == node.shape else {
      throw TracerError.invalidOp(node: id, scope: node.scope,
                                  message: "\(kind) '\(name)' was given shape \(tensor.shape), the graph declares \(node.shape)")
    }
    guard tensor.values.count == node.shape.elementCount else {
      throw TracerError.invalidOp(node: id, scope: node.scope,
                                  message: "\(kind) '\(name)' holds \(tensor.values.count) values for shape \(node.shape)")
    }
    return tensor.values
  }

  /// Rows of a [rows, width] table; every index must be an integer in `0..<rows`.
  private static func gather(table: [Double], shape: Shape, indices: [Double], node: Node,
                             id: Int) throws(TracerError) -> [Double] {
    let (rows, width) = (shape[0], shape[1])
    var output: [Double] = []
    output.reserveCapacity(indices.count * width)
    for (position, index) in indices.enumerated() {
      guard index.rounded() == index, index >= 0, index < Double(rows) else {
        throw TracerError.invalidOp(node: id, scope: node.scope,
                                    message: "gather index \(index) at position \(position) is not a row of the \(rows)-row table")
      }
      let row = Int(index) * width
      output.append(contentsOf: table[row..<(row + width)])
    }
    return output
  }
}
