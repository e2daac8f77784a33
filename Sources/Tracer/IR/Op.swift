/// Pointwise functions of one operand.
public enum UnaryOp: String, CaseIterable, Hashable, Sendable, Codable {
  case neg, exp, log, sqrt, rsqrt, tanh, erf, sigmoid, sin, cos, reciprocal
}

/// Pointwise functions of two operands, broadcast numpy-style (shapes aligned on the right).
public enum BinaryOp: String, CaseIterable, Hashable, Sendable, Codable {
  case add, sub, mul, div, max, min, pow

  public var isCommutative: Bool {
    switch self {
    case .add, .mul, .max, .min: return true
    case .sub, .div, .pow: return false
    }
  }
}

/// Reductions over one axis. The reduced axis is kept with size 1, so the result broadcasts back
/// against its input (`x - x.max(axis: -1)`) without a reshape.
public enum ReduceOp: String, CaseIterable, Hashable, Sendable, Codable {
  case sum, max, mean
}

/// The values of a `constant` leaf. Generated forms (`splat`, `arange`) keep large tables such as
/// position embeddings out of the serialized graph: they are built from these with primitives.
public enum ConstantValue: Hashable, Sendable {
  /// Every element equal to `value`.
  case splat(Double)
  /// Element `i` (row-major) equals `start + step * i`.
  case arange(start: Double, step: Double)
  /// Explicit values, row-major; the count equals the node's element count.
  case dense([Double])

  public func value(at flatIndex: Int) -> Double {
    switch self {
    case .splat(let value): return value
    case .arange(let start, let step): return start + step * Double(flatIndex)
    case .dense(let values): return values[flatIndex]
    }
  }
}

/// 2-D convolution attributes: input NCHW, weight [O, C/groups, KH, KW], symmetric zero padding.
public struct Conv2DAttributes: Hashable, Sendable {
  public var stride: [Int]
  public var padding: [Int]
  public var groups: Int

  public init(stride: [Int] = [1, 1], padding: [Int] = [0, 0], groups: Int = 1) {
    self.stride = stride
    self.padding = padding
    self.groups = groups
  }
}

/// A primitive operation. Nothing higher-level lives here: layer norm, softmax, GELU and attention
/// are DSL helpers that expand into these, and Codegen finds them again by pattern.
public enum Op: Hashable, Sendable {
  // Leaves
  case input(String)
  case param(String)
  case constant(ConstantValue)
  // Pointwise
  case unary(UnaryOp)
  case binary(BinaryOp)
  // Reductions (keep the reduced axis with size 1)
  case reduce(ReduceOp, axis: Int)
  /// Batched matrix product: [..., M, K] × [..., K, N] → [..., M, N], batch dims broadcast.
  case matmul
  // Shape ops
  case reshape([Int])
  case permute([Int])
  /// Elements `start..<end` along `axis`.
  case slice(axis: Int, start: Int, end: Int)
  case concat(axis: Int)
  /// Broadcast to the given shape (numpy rules: size-1 dims stretch, new dims on the left).
  case expand([Int])
  // Spatial
  case conv2d(Conv2DAttributes)
  /// Nearest-neighbour upsampling of the two last (H, W) axes by an integer factor.
  case upsampleNearest(scale: Int)
  /// Rows of a [V, D] table selected by integer indices of any shape: result [..indices, D].
  case gather

  /// The op's kind as one word, as printed and as keyed in statistics and JSON.
  public var kind: String {
    switch self {
    case .input: return "input"
    case .param: return "param"
    case .constant: return "constant"
    case .unary(let op): return op.rawValue
    case .binary(let op): return op.rawValue
    case .reduce(let op, _): return "reduce_" + op.rawValue
    case .matmul: return "matmul"
    case .reshape: return "reshape"
    case .permute: return "permute"
    case .slice: return "slice"
    case .concat: return "concat"
    case .expand: return "expand"
    case .conv2d: return "conv2d"
    case .upsampleNearest: return "upsample_nearest"
    case .gather: return "gather"
    }
  }

  public var isLeaf: Bool {
    switch self {
    case .input, .param, .constant: return true
    default: return false
    }
  }

  /// Shape ops move or view data but compute nothing.
  public var isShapeOp: Bool {
    switch self {
    case .reshape, .permute, .slice, .concat, .expand: return true
    default: return false
    }
  }
}
