extension Graph {
  /// The graph as text, one line per node, for a person reading or diffing graphs:
  ///
  /// ```
  /// %0 = input "latent" : f32[2, 4, 32, 32]
  /// %12 = matmul %10, %11 : f32[2, 256, 1152]  # transformer_blocks.0.attn1
  /// %13 = reshape[2, 256, 16, 72] %12 : f32[2, 256, 16, 72]  # transformer_blocks.0.attn1
  /// %14 = reduce_max(axis: -1) %13 : f32[2, 256, 16, 1]  # transformer_blocks.0.attn1
  /// output "noise_pred" = %120
  /// ```
  public var textDescription: String {
    var lines: [String] = []
    lines.reserveCapacity(nodes.count + outputs.count)
    for (id, node) in nodes.enumerated() {
      var line = "%\(id) = " + Self.opText(node.op)
      if !node.operands.isEmpty { line += " " + node.operands.map { "%\($0)" }.joined(separator: ", ") }
      line += " : \(node.dtype.rawValue)\(node.shape)"
      if !node.scope.isEmpty {
        let plain = node.scope.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
        line += "  # " + (plain ? node.scope : Self.quoted(node.scope))
      }
      lines.append(line)
    }
    for output in outputs {
      lines.append("output \(Self.quoted(output.name)) = %\(output.node)")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The op with its attributes, compactly: `reshape[2, 16, 72]`, `reduce_max(axis: -1)`.
  static func opText(_ op: Op) -> String {
    let kind = op.kind
    switch op {
    case .input(let name), .param(let name):
      return "\(kind) \(quoted(name))"
    case .constant(let value):
      return "\(kind) " + constantText(value)
    case .unary, .binary, .matmul, .gather:
      return kind
    case .reduce(_, let axis), .concat(let axis):
      return "\(kind)(axis: \(axis))"
    case .reshape(let dims), .expand(let dims), .permute(let dims):
      return kind + Shape(dims).description
    case .slice(let axis, let start, let end):
      return "\(kind)(axis: \(axis), \(start)..<\(end))"
    case .conv2d(let attributes):
      return "\(kind)(stride: \(Shape(attributes.stride)), padding: \(Shape(attributes.padding)), groups: \(attributes.groups))"
    case .upsampleNearest(let scale):
      return "\(kind)(scale: \(scale))"
    }
  }

  /// `splat(0.5)`, `arange(start: 0.0, step: 1.0)`, `dense[6](1.0, 2.0, …)` (first values only).
  static func constantText(_ value: ConstantValue) -> String {
    switch value {
    case .splat(let x):
      return "splat(\(x))"
    case .arange(let start, let step):
      return "arange(start: \(start), step: \(step))"
    case .dense(let values):
      let shown = 8
      let head = values.prefix(shown).map { "\($0)" }.joined(separator: ", ")
      return "dense[\(values.count)](" + head + (values.count > shown ? ", …" : "") + ")"
    }
  }

  /// A name in double quotes, escaped as JSON escapes strings, so one node stays on one line
  /// whatever its name holds.
  static func quoted(_ name: String) -> String { JSONText.string(name) }
}
