/// A tensor's values on the host, in Double, row-major: what the reference interpreter reads and
/// returns. i32 tensors (class labels, token ids) hold their integers as Doubles.
public struct HostTensor: Hashable, Sendable {
  public var shape: Shape
  public var values: [Double]

  /// Throws when `values` does not hold exactly one value per element of `shape`.
  public init(shape: Shape, values: [Double]) throws(TracerError) {
    guard values.count == shape.elementCount else {
      throw TracerError.invalidOp(node: nil, scope: "",
                                  message: "tensor has \(values.count) values for shape \(shape) (\(shape.elementCount) elements)")
    }
    self.shape = shape
    self.values = values
  }

  /// Every element equal to `value`.
  public init(shape: Shape, repeating value: Double) {
    self.shape = shape
    self.values = [Double](repeating: value, count: shape.elementCount)
  }

  /// A rank-0 tensor.
  public init(scalar: Double) {
    self.shape = []
    self.values = [scalar]
  }

  /// Used inside the interpreter, where every kernel produces exactly `shape.elementCount` values.
  init(unchecked shape: Shape, _ values: [Double]) {
    self.shape = shape
    self.values = values
  }
}
