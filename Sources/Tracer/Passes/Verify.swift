extension Graph {
  /// Checks the IR's invariants: SSA order (every operand defined earlier), leaves without
  /// operands, valid leaf shapes, every inferred shape and dtype equal to the declared one, and
  /// outputs naming existing nodes with distinct names. Throws the first violation found.
  public func verify() throws(TracerError) {
    for (id, node) in nodes.enumerated() {
      func fail(_ message: String) -> TracerError { .invalidOp(node: id, scope: node.scope, message: message) }
      for (position, operand) in node.operands.enumerated() where !(0..<id).contains(operand) {
        throw TracerError.invalidGraph("node \(id) (\(node.op.kind)) operand \(position) refers to node \(operand), "
                                       + "which is not defined before it")
      }
      if node.op.isLeaf {
        guard node.operands.isEmpty else { throw fail("\(node.op.kind) is a leaf and takes no operands") }
        do throws(ShapeError) { try ShapeInference.validate(node.shape) } catch { throw fail(error.message) }
        if case .constant(.dense(let values)) = node.op, values.count != node.shape.elementCount {
          throw fail("constant has \(values.count) values for shape \(node.shape)")
        }
        if case .constant(let value) = node.op, !value.isFinite { throw fail("constant holds a non-finite value") }
        continue
      }
      let operands = node.operands.map { (nodes[$0].shape, nodes[$0].dtype) }
      let inferred: (Shape, DType)
      do throws(ShapeError) { inferred = try ShapeInference.infer(node.op, operands: operands) } catch { throw fail(error.message) }
      guard inferred.0 == node.shape, inferred.1 == node.dtype else {
        throw fail("declared \(node.dtype.rawValue)\(node.shape) but \(node.op.kind) of its operands gives "
                   + "\(inferred.1.rawValue)\(inferred.0)")
      }
    }
    var names = Set<String>()
    for output in outputs {
      guard nodes.indices.contains(output.node) else {
        throw TracerError.invalidGraph("output '\(output.name)' refers to node \(output.node), which does not exist")
      }
      guard names.insert(output.name).inserted else {
        throw TracerError.invalidGraph("output name '\(output.name)' is used twice")
      }
    }
  }
}

extension ConstantValue {
  public var isFinite: Bool {
    switch self {
    case .splat(let value): return value.isFinite
    case .arange(let start, let step): return start.isFinite && step.isFinite
    case .dense(let values): return values.allSatisfy(\.isFinite)
    }
  }
}
