/// A traced value. Every operation on it appends a primitive to the builder's graph.
public struct Tensor {
  public let id: Int
  public let shape: Shape
  public let dtype: DType
  public let builder: GraphBuilder

  public var rank: Int { shape.rank }

  /// Size of `axis` (negative counts from the end).
  public func dim(_ axis: Int) -> Int { shape[axis < 0 ? axis + rank : axis] }

  private func scalar(_ value: Double) -> Tensor { builder.scalar(value, dtype: dtype) }

  // MARK: Pointwise, one operand

  public func unary(_ op: UnaryOp) -> Tensor { builder.apply(.unary(op), [self]) }
  public func exp() -> Tensor { unary(.exp) }
  public func log() -> Tensor { unary(.log) }
  public func sqrt() -> Tensor { unary(.sqrt) }
  public func rsqrt() -> Tensor { unary(.rsqrt) }
  public func tanh() -> Tensor { unary(.tanh) }
  public func erf() -> Tensor { unary(.erf) }
  public func sigmoid() -> Tensor { unary(.sigmoid) }
  public func sin() -> Tensor { unary(.sin) }
  public func cos() -> Tensor { unary(.cos) }
  public func reciprocal() -> Tensor { unary(.reciprocal) }
  public static prefix func - (x: Tensor) -> Tensor { x.unary(.neg) }

  // MARK: Pointwise, two operands (broadcasting)

  public func binary(_ op: BinaryOp, _ other: Tensor) -> Tensor { builder.apply(.binary(op), [self, other]) }
  public static func + (a: Tensor, b: Tensor) -> Tensor { a.binary(.add, b) }
  public static func - (a: Tensor, b: Tensor) -> Tensor { a.binary(.sub, b) }
  public static func * (a: Tensor, b: Tensor) -> Tensor { a.binary(.mul, b) }
  public static func / (a: Tensor, b: Tensor) -> Tensor { a.binary(.div, b) }
  public static func + (a: Tensor, b: Double) -> Tensor { a.binary(.add, a.scalar(b)) }
  public static func - (a: Tensor, b: Double) -> Tensor { a.binary(.sub, a.scalar(b)) }
  public static func * (a: Tensor, b: Double) -> Tensor { a.binary(.mul, a.scalar(b)) }
  public static func / (a: Tensor, b: Double) -> Tensor { a.binary(.div, a.scalar(b)) }
  public static func + (a: Double, b: Tensor) -> Tensor { b.scalar(a).binary(.add, b) }
  public static func - (a: Double, b: Tensor) -> Tensor { b.scalar(a).binary(.sub, b) }
  public static func * (a: Double, b: Tensor) -> Tensor { b.scalar(a).binary(.mul, b) }
  public static func / (a: Double, b: Tensor) -> Tensor { b.scalar(a).binary(.div, b) }
  public func maximum(_ other: Tensor) -> Tensor { binary(.max, other) }
  public func minimum(_ other: Tensor) -> Tensor { binary(.min, other) }
  public func pow(_ exponent: Tensor) -> Tensor { binary(.pow, exponent) }
  public func pow(_ exponent: Double) -> Tensor { binary(.pow, scalar(exponent)) }

  // MARK: Reductions (the reduced axis is kept with size 1)

  public func sum(axis: Int) -> Tensor { builder.apply(.reduce(.sum, axis: axis), [self]) }
  public func max(axis: Int) -> Tensor { builder.apply(.reduce(.max, axis: axis), [self]) }
  public func mean(axis: Int) -> Tensor { builder.apply(.reduce(.mean, axis: axis), [self]) }

  // MARK: Linear algebra

  /// Batched matrix product, batch dimensions broadcast.
  public func matmul(_ other: Tensor) -> Tensor { builder.apply(.matmul, [self, other]) }

  // MARK: Shape

  /// Reshape; one dimension may be -1 and is inferred from the element count.
  public func reshape(_ dims: [Int]) -> Tensor {
    var resolved = dims
    if let hole = dims.firstIndex(of: -1) {
      let known = dims.enumerated().filter { $0.offset != hole }.map(\.element).reduce(1, *)
      resolved[hole] = known > 0 && shape.elementCount % known == 0 ? shape.elementCount / known : 0
    }
    return builder.apply(.reshape(resolved), [self])
  }

  public func permute(_ order: [Int]) -> Tensor { builder.apply(.permute(order), [self]) }

  /// Swaps two axes (negative counts from the end).
  public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
    var order = Array(0..<rank)
    let (i, j) = (a < 0 ? a + rank : a, b < 0 ? b + rank : b)
    guard order.indices.contains(i), order.indices.contains(j) else { return permute([]) }
    order.swapAt(i, j)
    return permute(order)
  }

  public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
    builder.apply(.slice(axis: axis, start: range.lowerBound, end: range.upperBound), [self])
  }

  /// `count` equal slices along `axis`, as PyTorch's `chunk`.
  public func chunk(_ count: Int, axis: Int) -> [Tensor] {
    let size = dim(axis) / Swift.max(count, 1)
    return (0..<count).map { slice(axis: axis, ($0 * size)..<(($0 + 1) * size)) }
  }

  /// Inserts a size-1 axis at `axis` (negative counts from the end of the result).
  public func unsqueeze(_ axis: Int) -> Tensor {
    var dims = shape.dims
    dims.insert(1, at: axis < 0 ? axis + rank + 1 : axis)
    return reshape(dims)
  }

  public func expand(_ dims: [Int]) -> Tensor { builder.apply(.expand(dims), [self]) }

  public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    tensors[0].builder.apply(.concat(axis: axis), tensors)
  }

  // MARK: Spatial

  /// 2-D convolution of an NCHW input with an OIHW weight.
  public func conv2d(_ weight: Tensor, stride: Int = 1, padding: Int = 0, groups: Int = 1) -> Tensor {
    let attributes = Conv2DAttributes(stride: [stride, stride], padding: [padding, padding], groups: groups)
    return builder.apply(.conv2d(attributes), [self, weight])
  }

  public func upsampleNearest(_ scale: Int) -> Tensor { builder.apply(.upsampleNearest(scale: scale), [self]) }

  /// Rows of `self` (a [rows, width] table) selected by `indices`.
  public func gather(_ indices: Tensor) -> Tensor { builder.apply(.gather, [self, indices]) }
}
