import Tracer

/// The families of kernels Codegen instantiates; a match names one.
public enum PatternKind: String, CaseIterable, Hashable, Sendable, Codable {
  /// `softmax(Q·Kᵀ·scale [+ mask])·V`, batched over heads.
  case attention
  /// Layer, RMS or group norm with optional affine and optional `x·(1+scale)+shift`.
  case normalization
  /// A matmul against a weight ("linear") with its fused epilogue.
  case gemm
  /// A matmul of two activations outside attention, with its fused epilogue.
  case matmul
  /// A softmax that is not part of an attention.
  case softmax
  /// A connected region of pointwise ops and last-axis reductions computed as one loop nest.
  case pointwise
}

/// Where attention's K comes from.
public enum KeyLayout: Hashable, Sendable {
  /// `k` is [..., L, D]; the graph transposes it with a permute the kernel absorbs.
  case rowMajor
  /// `k` is already [..., D, L] (stored transposed; the matmul reads it directly).
  case transposedStored
}

public struct AttentionMatch: Hashable, Sendable {
  /// Nodes the fused kernel computes (increasing ids); `output` is the last.
  public var nodes: [Int]
  public var output: Int
  /// [..., S, D]
  public var q: Int
  /// [..., L, D] for `.rowMajor`, [..., D, L] for `.transposedStored`.
  public var k: Int
  public var keyLayout: KeyLayout
  /// [..., L, Dv]
  public var v: Int
  /// Added to the scaled scores before the softmax; broadcasts to [..., S, L].
  public var mask: Int?
  /// The factor the scores are multiplied by (1/√D in the usual form).
  public var scale: Double
  /// Leading (batch, heads) dimensions shared by q, k, v and the output.
  public var batchShape: [Int]
  public var queryLength: Int
  public var keyLength: Int
  public var headDim: Int
  public var valueDim: Int
  /// False when the softmax skipped the max subtraction (the kernel stabilizes it anyway).
  public var softmaxSubtractsMax: Bool
}

/// One fused step applied to a GEMM's [M, N] result, in order.
public enum Epilogue: Hashable, Sendable {
  /// `+ bias` with a per-column vector (shape [N] or [1, …, N]).
  case bias(Int)
  case activation(Activation)
  /// `· factor` with a compile-time constant.
  case scale(Double)
  /// `+ residual` with a tensor of the result's shape.
  case residual(Int)
  /// `· gate` with a tensor broadcast over rows ([B, 1, N] against [B, M, N]).
  case gate(Int)
}

/// Pointwise activations recognized whatever primitives spell them.
public enum Activation: String, CaseIterable, Hashable, Sendable {
  case geluTanh = "gelu_tanh"
  case geluErf = "gelu_erf"
  case silu
}

public struct GemmMatch: Hashable, Sendable {
  public var nodes: [Int]
  public var output: Int
  /// The matmul node itself.
  public var matmul: Int
  /// [..., M, K]
  public var a: Int
  /// The weight leaf (`.gemm`) or the right activation (`.matmul`).
  public var b: Int
  /// True when `b` is stored [N, K] (the graph transposes it and the kernel absorbs the permute).
  public var bTransposed: Bool
  /// True when `b` is a param or constant, which the runtime can pre-pack at load.
  public var bIsWeight: Bool
  public var m: Int
  public var n: Int
  public var k: Int
  /// Leading batch dimensions of the product (empty for a linear: rows are folded into M).
  public var batchShape: [Int]
  public var epilogue: [Epilogue]
}

public enum NormalizationKind: String, Hashable, Sendable {
  case layerNorm = "layer_norm"
  case rmsNorm = "rms_norm"
  case groupNorm = "group_norm"
}

public struct NormalizationMatch: Hashable, Sendable {
  public var nodes: [Int]
  public var output: Int
  public var kind: NormalizationKind
  /// The normalized tensor (for group norm, the ungrouped [N, C, …] tensor).
  public var input: Int
  public var eps: Double
  /// Number of groups for group norm; 1 otherwise.
  public var groups: Int
  /// Elements per normalized row (the last axis, or C/G·spatial for group norm).
  public var rowLength: Int
  public var weight: Int?
  public var bias: Int?
  /// Modulation `x·(1 + scale) + shift`: the tensors named `scale` and `shift` there.
  public var modulationScale: Int?
  public var modulationShift: Int?
}

public struct SoftmaxMatch: Hashable, Sendable {
  public var nodes: [Int]
  public var output: Int
  public var input: Int
  /// Resolved (non-negative) axis.
  public var axis: Int
  public var subtractsMax: Bool
}

public struct PointwiseMatch: Hashable, Sendable {
  public var nodes: [Int]
  public var output: Int
  /// Values read from outside the region, increasing ids.
  public var operands: [Int]
}

/// A region of the graph one kernel computes.
public enum PatternMatch: Hashable, Sendable {
  case attention(AttentionMatch)
  case normalization(NormalizationMatch)
  case gemm(GemmMatch)
  case softmax(SoftmaxMatch)
  case pointwise(PointwiseMatch)

  public var kind: PatternKind {
    switch self {
    case .attention: return .attention
    case .normalization: return .normalization
    case .gemm(let match): return match.bIsWeight ? .gemm : .matmul
    case .softmax: return .softmax
    case .pointwise: return .pointwise
    }
  }

  /// Nodes the kernel computes, increasing ids.
  public var nodes: [Int] {
    switch self {
    case .attention(let match): return match.nodes
    case .normalization(let match): return match.nodes
    case .gemm(let match): return match.nodes
    case .softmax(let match): return match.nodes
    case .pointwise(let match): return match.nodes
    }
  }

  /// The node whose value the kernel writes.
  public var output: Int {
    switch self {
    case .attention(let match): return match.output
    case .normalization(let match): return match.output
    case .gemm(let match): return match.output
    case .softmax(let match): return match.output
    case .pointwise(let match): return match.output
    }
  }
}
