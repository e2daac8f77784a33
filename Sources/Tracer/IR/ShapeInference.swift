/// The shape and dtype rules of every primitive, in one place: the DSL uses them while tracing,
/// `verify` and the JSON reader use them to check a graph someone else wrote.
public enum ShapeInference {
  /// Largest element count a tensor may have (2^36 elements = 256 GiB of f32): anything bigger is
  /// a corrupted or hostile description, not a model.
  public static let maxElementCount = 1 << 36
  /// Largest rank Kiln handles.
  public static let maxRank = 8

  /// Checks that a shape is one Kiln can hold: every dimension at least 1, bounded rank and size.
  public static func validate(_ shape: Shape) throws(ShapeError) {
    guard shape.rank <= maxRank else { throw ShapeError("rank \(shape.rank) exceeds the maximum of \(maxRank)") }
    var count = 1
    for dim in shape.dims {
      guard dim >= 1 else { throw ShapeError("dimension \(dim) in \(shape) must be at least 1") }
      let (product, overflow) = count.multipliedReportingOverflow(by: dim)
      guard !overflow, product <= maxElementCount else {
        throw ShapeError("shape \(shape) has more than \(maxElementCount) elements")
      }
      count = product
    }
  }

  /// Result shape and dtype of a non-leaf op applied to operands of the given shapes and dtypes.
  public static func infer(_ op: Op, operands: [(shape: Shape, dtype: DType)]) throws(ShapeError) -> (Shape, DType) {
    func arity(_ expected: Int) throws(ShapeError) {
      guard operands.count == expected else {
        throw ShapeError("\(op.kind) takes \(expected) operand\(expected == 1 ? "" : "s"), got \(operands.count)")
      }
    }
    func axis(_ axis: Int, of shape: Shape) throws(ShapeError) -> Int {
      guard let resolved = shape.normalizedAxis(axis) else {
        throw ShapeError("axis \(axis) is out of range for shape \(shape)")
      }
      return resolved
    }
    func floatOperands() throws(ShapeError) {
      for operand in operands where !operand.dtype.isFloatingPoint {
        throw ShapeError("\(op.kind) needs floating-point operands, got \(operand.dtype.rawValue)")
      }
    }

    let result: (Shape, DType)
    switch op {
    case .input, .param, .constant:
      throw ShapeError("\(op.kind) is a leaf: its shape is declared, not inferred")

    case .unary:
      try arity(1)
      try floatOperands()
      result = (operands[0].shape, operands[0].dtype)

    case .binary:
      try arity(2)
      try floatOperands()
      guard operands[0].dtype == operands[1].dtype else {
        throw ShapeError("\(op.kind) mixes \(operands[0].dtype.rawValue) and \(operands[1].dtype.rawValue)")
      }
      result = (try broadcast(operands[0].shape, operands[1].shape), operands[0].dtype)

    case .reduce(_, let reducedAxis):
      try arity(1)
      try floatOperands()
      var dims = operands[0].shape.dims
      dims[try axis(reducedAxis, of: operands[0].shape)] = 1
      result = (Shape(dims), operands[0].dtype)

    case .matmul:
      try arity(2)
      try floatOperands()
      let (a, b) = (operands[0].shape, operands[1].shape)
      guard a.rank >= 2, b.rank >= 2 else { throw ShapeError("matmul needs rank ≥ 2 operands, got \(a) and \(b)") }
      guard operands[0].dtype == operands[1].dtype else {
        throw ShapeError("matmul mixes \(operands[0].dtype.rawValue) and \(operands[1].dtype.rawValue)")
      }
      guard a[a.rank - 1] == b[b.rank - 2] else {
        throw ShapeError("matmul inner dimensions differ: \(a) × \(b)")
      }
      let batch = try broadcast(Shape(Array(a.dims.dropLast(2))), Shape(Array(b.dims.dropLast(2))))
      result = (Shape(batch.dims + [a[a.rank - 2], b[b.rank - 1]]), operands[0].dtype)

    case .reshape(let target):
      try arity(1)
      let shape = Shape(target)
      try validate(shape)
      guard shape.elementCount == operands[0].shape.elementCount else {
        throw ShapeError("cannot reshape \(operands[0].shape) to \(shape): element counts differ")
      }
      result = (shape, operands[0].dtype)

    case .permute(let order):
      try arity(1)
      let shape = operands[0].shape
      guard order.count == shape.rank, Set(order) == Set(0..<shape.rank) else {
        throw ShapeError("permutation \(order) is not a permutation of the \(shape.rank) axes of \(shape)")
      }
      result = (Shape(order.map { shape[$0] }), operands[0].dtype)

    case .slice(let sliceAxis, let start, let end):
      try arity(1)
      let shape = operands[0].shape
      let resolved = try axis(sliceAxis, of: shape)
      guard 0 <= start, start < end, end <= shape[resolved] else {
        throw ShapeError("slice \(start)..<\(end) is out of range for axis \(sliceAxis) of \(shape)")
      }
      var dims = shape.dims
      dims[resolved] = end - start
      result = (Shape(dims), operands[0].dtype)

    case .concat(let concatAxis):
      guard let first = operands.first else { throw ShapeError("concat needs at least one operand") }
      let resolved = try axis(concatAxis, of: first.shape)
      var total = 0
      for operand in operands {
        guard operand.dtype == first.dtype else { throw ShapeError("concat mixes \(first.dtype.rawValue) and \(operand.dtype.rawValue)") }
        guard operand.shape.rank == first.shape.rank,
              (0..<first.shape.rank).allSatisfy({ $0 == resolved || operand.shape[$0] == first.shape[$0] })
        else { throw ShapeError("concat along axis \(concatAxis) needs equal other dimensions: \(first.shape) and \(operand.shape)") }
        total += operand.shape[resolved]
      }
      var dims = first.shape.dims
      dims[resolved] = total
      result = (Shape(dims), first.dtype)

    case .expand(let target):
      try arity(1)
      let shape = Shape(target)
      try validate(shape)
      guard (try? broadcast(operands[0].shape, shape)) == shape else {
        throw ShapeError("cannot expand \(operands[0].shape) to \(shape)")
      }
      result = (shape, operands[0].dtype)

    case .conv2d(let attributes):
      try arity(2)
      try floatOperands()
      let (x, w) = (operands[0].shape, operands[1].shape)
      guard x.rank == 4, w.rank == 4 else { throw ShapeError("conv2d needs NCHW input and OIHW weight, got \(x) and \(w)") }
      guard attributes.stride.count == 2, attributes.padding.count == 2,
            attributes.stride.allSatisfy({ $0 >= 1 }), attributes.padding.allSatisfy({ $0 >= 0 }),
            attributes.groups >= 1
      else { throw ShapeError("conv2d needs two strides ≥ 1, two paddings ≥ 0 and groups ≥ 1") }
      let groups = attributes.groups
      guard x[1] % groups == 0, w[0] % groups == 0, w[1] * groups == x[1] else {
        throw ShapeError("conv2d weight \(w) does not fit input \(x) with \(groups) group(s)")
      }
      var spatial: [Int] = []
      for i in 0..<2 {
        let padded = x[2 + i] + 2 * attributes.padding[i]
        guard padded >= w[2 + i] else { throw ShapeError("conv2d kernel \(w) is larger than the padded input \(x)") }
        spatial.append((padded - w[2 + i]) / attributes.stride[i] + 1)
      }
      result = (Shape([x[0], w[0]] + spatial), operands[0].dtype)

    case .upsampleNearest(let scale):
      try arity(1)
      let x = operands[0].shape
      guard x.rank >= 2, scale >= 1 else { throw ShapeError("upsample_nearest needs rank ≥ 2 and scale ≥ 1, got \(x) and \(scale)") }
      var dims = x.dims
      dims[x.rank - 2] *= scale
      dims[x.rank - 1] *= scale
      result = (Shape(dims), operands[0].dtype)

    case .gather:
      try arity(2)
      let (table, indices) = (operands[0], operands[1])
      guard table.shape.rank == 2 else { throw ShapeError("gather needs a [rows, width] table, got \(table.shape)") }
      guard indices.dtype == .i32 else { throw ShapeError("gather needs i32 indices, got \(indices.dtype.rawValue)") }
      result = (Shape(indices.shape.dims + [table.shape[1]]), table.dtype)
    }
    try validate(result.0)
    return result
  }

  /// Numpy broadcasting: shapes aligned on the right; each pair of dimensions equal or one is 1.
  public static func broadcast(_ a: Shape, _ b: Shape) throws(ShapeError) -> Shape {
    let rank = max(a.rank, b.rank)
    var dims = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
      let da = i < rank - a.rank ? 1 : a[i - (rank - a.rank)]
      let db = i < rank - b.rank ? 1 : b[i - (rank - b.rank)]
      guard da == db || da == 1 || db == 1 else { throw ShapeError("shapes \(a) and \(b) do not broadcast") }
      dims[i] = max(da, db)
    }
    return Shape(dims)
  }
}

/// Why an op cannot take the operands it was given.
public struct ShapeError: Error, Equatable, CustomStringConvertible, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}
