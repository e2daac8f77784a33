import Foundation

// The helpers models are written with. Each expands into primitives only: nothing in the graph
// says "this was attention"; Codegen finds these shapes of computation again by pattern.

/// `x · weightᵀ + bias`, with `weight` stored [out, in] as PyTorch stores it.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
  let product = x.matmul(weight.transposed(0, 1))
  return bias.map { product + $0 } ?? product
}

/// Layer normalization over the last axis, with optional elementwise affine.
public func layerNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-5) -> Tensor {
  let centered = x - x.mean(axis: -1)
  let variance = (centered * centered).mean(axis: -1)
  var y = centered * (variance + eps).rsqrt()
  if let weight { y = y * weight }
  if let bias { y = y + bias }
  return y
}

/// Root-mean-square normalization over the last axis.
public func rmsNorm(_ x: Tensor, weight: Tensor? = nil, eps: Double = 1e-6) -> Tensor {
  let y = x * ((x * x).mean(axis: -1) + eps).rsqrt()
  return weight.map { y * $0 } ?? y
}

/// Group normalization of an NCHW tensor: statistics per (sample, group of channels).
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Double = 1e-6) -> Tensor {
  let (n, c) = (x.dim(0), x.dim(1))
  let spatial = x.shape.dims.dropFirst(2).reduce(1, *)
  guard groups > 0, c % groups == 0 else {
    x.builder.fail("group norm: \(c) channels do not split into \(groups) groups")
    return x
  }
  let grouped = x.reshape([n, groups, c / groups * spatial])
  var y = layerNorm(grouped, eps: eps).reshape(x.shape.dims)
  let channelShape = [c] + [Int](repeating: 1, count: x.rank - 2)
  if let weight { y = y * weight.reshape(channelShape) }
  if let bias { y = y + bias.reshape(channelShape) }
  return y
}

public enum GELUApproximation: String, Sendable {
  /// `0.5·x·(1 + erf(x/√2))`, the exact form.
  case none
  /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
  case tanh
}

public func gelu(_ x: Tensor, approximation: GELUApproximation = .none) -> Tensor {
  switch approximation {
  case .none:
    return 0.5 * x * (1.0 + (x * (1.0 / 2.0.squareRoot())).erf())
  case .tanh:
    let inner = (x + 0.044715 * x * x * x) * (2.0 / Double.pi).squareRoot()
    return 0.5 * x * (1.0 + inner.tanh())
  }
}

/// `x · sigmoid(x)`.
public func silu(_ x: Tensor) -> Tensor { x * x.sigmoid() }

/// Softmax along `axis`, stabilized by subtracting the row maximum.
public func softmax(_ x: Tensor, axis: Int = -1) -> Tensor {
  let exponentials = (x - x.max(axis: axis)).exp()
  return exponentials / exponentials.sum(axis: axis)
}

/// Scaled dot-product attention: `softmax(q·kᵀ·scale + mask)·v`.
/// q: [..., S, D], k: [..., L, D], v: [..., L, Dv]; the scale defaults to 1/√D.
public func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil, scale: Double? = nil) -> Tensor {
  let scale = scale ?? 1.0 / Double(q.dim(-1)).squareRoot()
  var scores = q.matmul(k.transposed()) * scale
  if let mask { scores = scores + mask }
  return softmax(scores, axis: -1).matmul(v)
}

/// How a rotary embedding pairs the channels it rotates.
public enum RoPELayout: String, Sendable {
  /// Channels (2i, 2i+1) form a pair: FLUX, Wan (complex multiplication on interleaved pairs).
  case interleaved
  /// Channel i pairs with i + D/2: Llama as written in Hugging Face transformers ("rotate half").
  case halves
}

/// Rotary position embedding of `x` [..., S, D] with per-position angles' `cos` and `sin`
/// of shape [S, D/2] (broadcast over the leading axes).
public func rope(_ x: Tensor, cos: Tensor, sin: Tensor, layout: RoPELayout) -> Tensor {
  let d = x.dim(-1)
  let s = x.dim(-2)
  let lead = Array(x.shape.dims.dropLast(2))
  switch layout {
  case .interleaved:
    let pairs = x.reshape(lead + [s, d / 2, 2])
    let even = pairs.slice(axis: -1, 0..<1)
    let odd = pairs.slice(axis: -1, 1..<2)
    let (c, sn) = (cos.reshape([s, d / 2, 1]), sin.reshape([s, d / 2, 1]))
    let rotated = Tensor.concat([even * c - odd * sn, even * sn + odd * c], axis: -1)
    return rotated.reshape(x.shape.dims)
  case .halves:
    let first = x.slice(axis: -1, 0..<(d / 2))
    let second = x.slice(axis: -1, (d / 2)..<d)
    return Tensor.concat([first * cos - second * sin, second * cos + first * sin], axis: -1)
  }
}

/// adaLN modulation: `x·(1 + scale) + shift`, with `shift`/`scale` of shape [B, D] broadcast over
/// the tokens of `x` [B, T, D].
public func modulate(_ x: Tensor, shift: Tensor, scale: Tensor) -> Tensor {
  x * (1.0 + scale.unsqueeze(1)) + shift.unsqueeze(1)
}

/// 2-D convolution with an optional per-output-channel bias.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, groups: Int = 1) -> Tensor {
  let y = x.conv2d(weight, stride: stride, padding: padding, groups: groups)
  return bias.map { y + $0.reshape([$0.dim(0), 1, 1]) } ?? y
}

/// Sinusoidal embedding of timesteps `t` [B] into `dim` channels, as diffusers'
/// `get_timestep_embedding`: frequencies `exp(-ln(maxPeriod)·i/(dim/2 − shift))`,
/// `[sin, cos]` (or `[cos, sin]` when `flipSinToCos`).
public func timestepEmbedding(_ t: Tensor, dim: Int, maxPeriod: Double = 10_000,
                              flipSinToCos: Bool = true, downscaleFreqShift: Double = 0) -> Tensor {
  let half = dim / 2
  let b = t.builder
  let exponent = b.arange(half, start: 0, step: -Foundation.log(maxPeriod) / (Double(half) - downscaleFreqShift))
  let angles = t.reshape([t.dim(0), 1]) * exponent.exp().reshape([1, half])
  let (sinPart, cosPart) = (angles.sin(), angles.cos())
  return Tensor.concat(flipSinToCos ? [cosPart, sinPart] : [sinPart, cosPart], axis: -1)
}

/// Fixed 2-D sine-cosine position embedding of a `gridHeight`×`gridWidth` token grid, as MAE
/// and DiT define it: the first half of the channels encodes the column, the second the row.
/// Result: [gridHeight·gridWidth, dim], built from `arange` constants with primitives.
public func sincosPositionEmbedding2D(_ builder: GraphBuilder, dim: Int, gridHeight: Int, gridWidth: Int) -> Tensor {
  func embed1D(_ positions: Tensor, _ channels: Int) -> Tensor {
    // omega_i = 1 / 10000^(i / (channels/2)); out = [sin(pos·omega), cos(pos·omega)]
    let half = channels / 2
    let omega = builder.arange(half, start: 0, step: -Foundation.log(10_000.0) / Double(half)).exp()
    let angles = positions.reshape([-1, 1]) * omega.reshape([1, half])
    return Tensor.concat([angles.sin(), angles.cos()], axis: -1)
  }
  let tokens = gridHeight * gridWidth
  let column = builder.arange(gridWidth).reshape([1, gridWidth]).expand([gridHeight, gridWidth]).reshape([tokens])
  let row = builder.arange(gridHeight).reshape([gridHeight, 1]).expand([gridHeight, gridWidth]).reshape([tokens])
  return Tensor.concat([embed1D(column, dim / 2), embed1D(row, dim / 2)], axis: -1)
}

extension GraphBuilder {
  /// A PyTorch `nn.Linear` named `name` in the current scope: parameters `name.weight` [out, in]
  /// and, when `bias`, `name.bias` [out].
  public func linear(_ name: String, _ x: Tensor, out: Int, bias: Bool = true) -> Tensor {
    scope(name) {
      let weight = param("weight", [out, x.dim(-1)])
      return Tracer.linear(x, weight: weight, bias: bias ? param("bias", [out]) : nil)
    }
  }

  /// A PyTorch `nn.LayerNorm` (affine) named `name` over the last axis.
  public func layerNorm(_ name: String, _ x: Tensor, eps: Double = 1e-5) -> Tensor {
    scope(name) {
      let d = x.dim(-1)
      return Tracer.layerNorm(x, weight: param("weight", [d]), bias: param("bias", [d]), eps: eps)
    }
  }

  /// An RMS norm with a learned scale named `name.weight`.
  public func rmsNorm(_ name: String, _ x: Tensor, eps: Double = 1e-6) -> Tensor {
    scope(name) { Tracer.rmsNorm(x, weight: param("weight", [x.dim(-1)]), eps: eps) }
  }

  /// A PyTorch `nn.GroupNorm` (affine) named `name`.
  public func groupNorm(_ name: String, _ x: Tensor, groups: Int, eps: Double = 1e-6) -> Tensor {
    scope(name) {
      let c = x.dim(1)
      return Tracer.groupNorm(x, groups: groups, weight: param("weight", [c]), bias: param("bias", [c]), eps: eps)
    }
  }

  /// A PyTorch `nn.Conv2d` named `name`: `name.weight` [out, in/groups, k, k] and `name.bias` [out].
  public func conv2d(_ name: String, _ x: Tensor, out: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                     groups: Int = 1, bias: Bool = true) -> Tensor {
    scope(name) {
      let weight = param("weight", [out, x.dim(1) / Swift.max(groups, 1), kernel, kernel])
      return Tracer.conv2d(x, weight: weight, bias: bias ? param("bias", [out]) : nil,
                         stride: stride, padding: padding, groups: groups)
    }
  }
}
