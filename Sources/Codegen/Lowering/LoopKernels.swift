import Tracer

// Kernels Codegen writes itself rather than instantiating a hand-written template: fused
// pointwise/row-reduction loop nests, and the textbook loops of the naive executor. These are the
// specifications; `LoopEmitter` renders them as C.

/// One step of a fused loop nest, in SSA order over the kernel's iteration space.
public enum LoopStep: Hashable, Sendable {
  /// Operand `operand` at the current index (its strides over the iteration space; 0 broadcasts).
  case load(operand: Int)
  case constant(Double)
  case unary(UnaryOp, Int)
  case binary(BinaryOp, Int, Int)
  /// Reduces a step over the innermost axis. The result is one value per row, which later steps
  /// broadcast along the row.
  case reduce(ReduceOp, Int)
}

/// Stores a step's value into output `output` with `strides` over the iteration space. A per-row
/// value (a reduction, or anything computed from per-row values only) ignores the innermost stride.
public struct LoopStore: Hashable, Sendable {
  public var step: Int
  public var output: Int
  public var strides: [Int]

  public init(step: Int, output: Int, strides: [Int]) {
    self.step = step
    self.output = output
    self.strides = strides
  }
}

/// A loop nest over `shape`: pointwise chains with row reductions (softmax, normalizations in the
/// naive executor), copies that materialize a view, the pieces of a concat.
/// The reduced axis is always the innermost one; lowering permutes strides to make it so.
/// Threads split the rows (every axis but the innermost) in contiguous ranges.
public struct LoopKernel: Hashable, Sendable {
  public var shape: [Int]
  /// Strides of each operand over `shape`, in elements, relative to the pointer the kernel is given.
  public var operandStrides: [[Int]]
  /// dtype of each operand (f32 in practice; i32 operands are read as integers and converted).
  public var operandTypes: [DType]
  public var outputCount: Int
  public var steps: [LoopStep]
  public var stores: [LoopStore]
  /// False renders textbook scalar C (the naive executor: no intrinsics, no fusion beyond the op).
  public var vectorize: Bool

  public init(shape: [Int], operandStrides: [[Int]], operandTypes: [DType]? = nil, outputCount: Int,
              steps: [LoopStep], stores: [LoopStore], vectorize: Bool) {
    self.shape = shape
    self.operandStrides = operandStrides
    self.operandTypes = operandTypes ?? Array(repeating: .f32, count: operandStrides.count)
    self.outputCount = outputCount
    self.steps = steps
    self.stores = stores
    self.vectorize = vectorize
  }
}

/// C[batch…, M, N] = A[batch…, M, K] · B[batch…, K, N] with arbitrary strides on A and B (batch
/// axes broadcast with stride 0) and a dense row-major C: a matmul of two activations outside
/// attention, and every matmul of the naive executor (textbook i-j-k loops when not vectorized).
public struct MatmulLoopKernel: Hashable, Sendable {
  public var batchShape: [Int]
  public var m: Int
  public var n: Int
  public var k: Int
  /// Strides of A over [batch…, M, K] and of B over [batch…, K, N].
  public var aStrides: [Int]
  public var bStrides: [Int]
  public var vectorize: Bool

  public init(batchShape: [Int], m: Int, n: Int, k: Int, aStrides: [Int], bStrides: [Int], vectorize: Bool) {
    self.batchShape = batchShape
    self.m = m
    self.n = n
    self.k = k
    self.aStrides = aStrides
    self.bStrides = bStrides
    self.vectorize = vectorize
  }
}

/// Direct 2-D convolution, NCHW input (dense), OIHW weight (dense, unpacked), dense NCHW output:
/// the naive executor's convolution, and the fallback for grouped convolutions.
public struct Conv2DLoopKernel: Hashable, Sendable {
  public var batch: Int
  public var inChannels: Int
  public var height: Int
  public var width: Int
  public var outChannels: Int
  public var kernelHeight: Int
  public var kernelWidth: Int
  public var stride: [Int]
  public var padding: [Int]
  public var groups: Int

  public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int, kernelHeight: Int,
              kernelWidth: Int, stride: [Int], padding: [Int], groups: Int) {
    self.batch = batch
    self.inChannels = inChannels
    self.height = height
    self.width = width
    self.outChannels = outChannels
    self.kernelHeight = kernelHeight
    self.kernelWidth = kernelWidth
    self.stride = stride
    self.padding = padding
    self.groups = groups
  }

  public var outputHeight: Int { (height + 2 * padding[0] - kernelHeight) / stride[0] + 1 }
  public var outputWidth: Int { (width + 2 * padding[1] - kernelWidth) / stride[1] + 1 }
}

/// Rows of a dense [rows, width] f32 table selected by dense i32 indices: out[i, :] = table[idx[i], :].
/// Indices outside [0, rows) are clamped (the runtime validates inputs before a run).
public struct GatherKernel: Hashable, Sendable {
  public var tableRows: Int
  public var width: Int
  public var indexCount: Int

  public init(tableRows: Int, width: Int, indexCount: Int) {
    self.tableRows = tableRows
    self.width = width
    self.indexCount = indexCount
  }
}

/// Nearest-neighbour upsampling of the two innermost axes of a dense [planes, H, W] tensor.
public struct UpsampleKernel: Hashable, Sendable {
  public var planes: Int
  public var height: Int
  public var width: Int
  public var scale: Int

  public init(planes: Int, height: Int, width: Int, scale: Int) {
    self.planes = planes
    self.height = height
    self.width = width
    self.scale = scale
  }
}
