import Foundation
import Tracer

/// A Wan 2.1-style text-to-video diffusion transformer (Wan Team, "Wan: Open and Advanced
/// Large-Scale Video Generative Models", 2025): 3-D patches of a video latent attend to each other
/// with 3-D rotary positions, cross-attend to T5 text embeddings, and are modulated by the
/// timestep through one shared projection plus a learned table per block.
///
/// Parameter names follow diffusers' `WanTransformer3DModel` (text-to-video, no image embedder).
public enum VideoDiT: ReferenceModel {
  public struct Config: ModelConfiguration {
    /// Video frames; the latent has (frames − 1)/4 + 1 (the Wan VAE compresses time by 4).
    public var frames: Int
    /// Video height and width in pixels; the latent is 8× smaller (the Wan VAE's downsampling).
    public var height: Int
    public var width: Int
    public var hidden: Int
    public var ffn: Int
    public var heads: Int
    public var layers: Int
    public var inChannels: Int
    public var outChannels: Int
    public var textDim: Int
    public var textTokens: Int
    public var patchFrames: Int
    public var patchHeight: Int
    public var patchWidth: Int
    public var batch: Int

    public var latentFrames: Int { (frames - 1) / 4 + 1 }
    public var latentHeight: Int { height / 8 }
    public var latentWidth: Int { width / 8 }
    public var gridFrames: Int { latentFrames / patchFrames }
    public var gridHeight: Int { latentHeight / patchHeight }
    public var gridWidth: Int { latentWidth / patchWidth }
    public var tokens: Int { gridFrames * gridHeight * gridWidth }
    public var headDim: Int { hidden / heads }
    public var patchVolume: Int { patchFrames * patchHeight * patchWidth }

    public func validate() throws {
      func require(_ condition: Bool, _ message: String) throws {
        if !condition { throw ModelError.invalidConfig(family: VideoDiT.family, message: message) }
      }
      try require([frames, height, width, hidden, ffn, heads, layers, inChannels, outChannels, textDim, textTokens,
                   patchFrames, patchHeight, patchWidth, batch].allSatisfy { $0 >= 1 },
                  "every size must be at least 1")
      try require((frames - 1) % 4 == 0, "frames \(frames) is not 4k + 1 (the VAE compresses time by 4)")
      try require(height % 8 == 0, "height \(height) is not a multiple of 8 (the VAE's downsampling)")
      try require(width % 8 == 0, "width \(width) is not a multiple of 8 (the VAE's downsampling)")
      try require(latentFrames % patchFrames == 0,
                  "latent frames \(latentFrames) are not a multiple of patchFrames \(patchFrames)")
      try require(latentHeight % patchHeight == 0,
                  "latent height \(latentHeight) is not a multiple of patchHeight \(patchHeight)")
      try require(latentWidth % patchWidth == 0,
                  "latent width \(latentWidth) is not a multiple of patchWidth \(patchWidth)")
      try require(hidden % heads == 0, "hidden \(hidden) is not divisible by heads \(heads)")
      try require(headDim % 2 == 0 && headDim >= 6,
                  "head dim \(headDim) must be even and at least 6 to split into (t, h, w) rotary parts")
    }
  }

  public static let family = "video-dit"
  public static let summary = "Wan 2.1-style text-to-video DiT (3-D RoPE, cross-attention to T5 text)"

  /// Width of the sinusoidal timestep features.
  static let timeFrequencyDim = 256
  /// Epsilon of every layer and RMS norm in the model.
  static let normEps = 1e-6

  public static var configs: [(name: String, config: Config)] {
    [
      ("small", Config(
        frames: 13, height: 128, width: 128, hidden: 384, ffn: 1536, heads: 6, layers: 4,
        inChannels: 16, outChannels: 16, textDim: 1024, textTokens: 64,
        patchFrames: 1, patchHeight: 2, patchWidth: 2, batch: 1)),
      // Wan 2.1 T2V 1.3B at 81 frames of 480×832.
      ("wan-1.3b", Config(
        frames: 81, height: 480, width: 832, hidden: 1536, ffn: 8960, heads: 12, layers: 30,
        inChannels: 16, outChannels: 16, textDim: 4096, textTokens: 512,
        patchFrames: 1, patchHeight: 2, patchWidth: 2, batch: 1)),
      ("tiny", Config(
        frames: 5, height: 32, width: 48, hidden: 24, ffn: 40, heads: 2, layers: 2,
        inChannels: 4, outChannels: 4, textDim: 12, textTokens: 5,
        patchFrames: 1, patchHeight: 2, patchWidth: 2, batch: 2)),
    ]
  }

  public static func trace(_ config: Config) throws -> Graph {
    try config.validate()
    return try Graph.trace { b in
      let latent = b.input("latent", [config.batch, config.inChannels, config.latentFrames,
                                      config.latentHeight, config.latentWidth])
      let timestep = b.input("timestep", [config.batch])
      let text = b.input("text_embeddings", [config.batch, config.textTokens, config.textDim])
      b.output("noise_pred", forward(b, config, latent: latent, timestep: timestep, textEmbeddings: text))
    }
  }

  /// The denoiser: latent [B, C, F, H, W], timestep [B], text [B, L, textDim] → velocity like the latent.
  public static func forward(_ b: GraphBuilder, _ config: Config, latent: Tensor, timestep: Tensor,
                             textEmbeddings: Tensor) -> Tensor {
    let (batch, d) = (config.batch, config.hidden)
    let (cos, sin) = rotaryTables(b, config)

    var x = b.scope("patch_embedding") { patchEmbedding(b, config, latent) }
    let (temb, timestepProjection, context) = b.scope("condition_embedder") {
      conditionEmbedding(b, config, timestep: timestep, textEmbeddings: textEmbeddings)
    }
    // One projection of the timestep drives every block; each block adds its own learned table.
    let blockModulation = timestepProjection.reshape([batch, 6, d])
    for index in 0..<config.layers {
      x = b.scope("blocks.\(index)") {
        transformerBlock(b, config, x, context: context, modulation: blockModulation, cos: cos, sin: sin)
      }
    }

    let table = b.param("scale_shift_table", [1, 2, d])
    let finalModulation = (table + temb.unsqueeze(1)).chunk(2, axis: 1)
    let (shift, scale) = (finalModulation[0], finalModulation[1])
    x = b.scope("norm_out") { layerNorm(x, eps: normEps) * (1.0 + scale) + shift }
    x = b.linear("proj_out", x, out: config.patchVolume * config.outChannels)
    return unpatchify(x, config)
  }

  /// The Conv3d with kernel = stride = patch, written as patchify + matmul (exact for stride =
  /// kernel). Tokens come out frame-major, then row, then column, as the conv output flattened.
  static func patchEmbedding(_ b: GraphBuilder, _ config: Config, _ latent: Tensor) -> Tensor {
    let (batch, c) = (config.batch, config.inChannels)
    let (pt, ph, pw) = (config.patchFrames, config.patchHeight, config.patchWidth)
    let (gf, gh, gw) = (config.gridFrames, config.gridHeight, config.gridWidth)
    let weight = b.param("weight", [config.hidden, c, pt, ph, pw])
    let bias = b.param("bias", [config.hidden])
    let patches = latent.reshape([batch, c, gf, pt, gh, ph, gw, pw])
      .permute([0, 2, 4, 6, 1, 3, 5, 7])
      .reshape([batch, config.tokens, c * config.patchVolume])
    return linear(patches, weight: weight.reshape([config.hidden, c * config.patchVolume]), bias: bias)
  }

  /// diffusers' `WanTimeTextImageEmbedding` (text-to-video): the timestep embedding `temb`, its
  /// projection to the six per-block modulations, and the text embeddings projected to the width.
  static func conditionEmbedding(_ b: GraphBuilder, _ config: Config, timestep: Tensor,
                                 textEmbeddings: Tensor) -> (temb: Tensor, projection: Tensor, context: Tensor) {
    let d = config.hidden
    let frequencies = timestepEmbedding(timestep, dim: timeFrequencyDim, flipSinToCos: true, downscaleFreqShift: 0)
    let temb = b.scope("time_embedder") {
      b.linear("linear_2", silu(b.linear("linear_1", frequencies, out: d)), out: d)
    }
    let projection = b.linear("time_proj", silu(temb), out: 6 * d)
    let context = b.scope("text_embedder") {
      b.linear("linear_2", gelu(b.linear("linear_1", textEmbeddings, out: d), approximation: .tanh), out: d)
    }
    return (temb, projection, context)
  }

  /// One Wan block: modulated self-attention with 3-D RoPE, cross-attention to the text (its norm
  /// affine, unmodulated, ungated), then the modulated, gated feed-forward.
  static func transformerBlock(_ b: GraphBuilder, _ config: Config, _ x: Tensor, context: Tensor,
                               modulation: Tensor, cos: Tensor, sin: Tensor) -> Tensor {
    let table = b.param("scale_shift_table", [1, 6, config.hidden])
    let parts = (table + modulation).chunk(6, axis: 1)
    let (shiftMSA, scaleMSA, gateMSA) = (parts[0], parts[1], parts[2])
    let (shiftFFN, scaleFFN, gateFFN) = (parts[3], parts[4], parts[5])

    let normed = layerNorm(x, eps: normEps) * (1.0 + scaleMSA) + shiftMSA
    let selfAttended = b.scope("attn1") {
      attentionLayer(b, config, normed, context: normed, rotary: (cos, sin))
    }
    var h = x + selfAttended * gateMSA

    let crossNormed = b.layerNorm("norm2", h, eps: normEps)
    let crossAttended = b.scope("attn2") { attentionLayer(b, config, crossNormed, context: context, rotary: nil) }
    h = h + crossAttended

    let fed = b.scope("ffn.net") {
      let inner = gelu(b.linear("0.proj", layerNorm(h, eps: normEps) * (1.0 + scaleFFN) + shiftFFN, out: config.ffn),
                       approximation: .tanh)
      return b.linear("2", inner, out: config.hidden)
    }
    return h + fed * gateFFN
  }

  /// diffusers' `Attention` with Wan's processor: q from `x`, k and v from `context`, RMS norms
  /// over the full width ("across heads") before the head split, RoPE on q and k when given.
  static func attentionLayer(_ b: GraphBuilder, _ config: Config, _ x: Tensor, context: Tensor,
                             rotary: (cos: Tensor, sin: Tensor)?) -> Tensor {
    let (d, heads) = (config.hidden, config.heads)
    func splitHeads(_ t: Tensor) -> Tensor {
      t.reshape([t.dim(0), t.dim(1), heads, d / heads]).permute([0, 2, 1, 3])
    }
    var q = splitHeads(b.rmsNorm("norm_q", b.linear("to_q", x, out: d), eps: normEps))
    var k = splitHeads(b.rmsNorm("norm_k", b.linear("to_k", context, out: d), eps: normEps))
    let v = splitHeads(b.linear("to_v", context, out: d))
    if let rotary {
      q = rope(q, cos: rotary.cos, sin: rotary.sin, layout: .interleaved)
      k = rope(k, cos: rotary.cos, sin: rotary.sin, layout: .interleaved)
    }
    let o = attention(q, k, v).permute([0, 2, 1, 3]).reshape([x.dim(0), x.dim(1), d])
    return b.linear("to_out.0", o, out: d)
  }

  /// Sizes of the (frame, row, column) parts of a head dim `d` the 3-D RoPE rotates:
  /// `d − 4⌊d/6⌋`, `2⌊d/6⌋`, `2⌊d/6⌋` (44/42/42 for d = 128).
  public static func rotarySplit(headDim d: Int) -> (frames: Int, rows: Int, columns: Int) {
    let spatial = 2 * (d / 6)
    return (d - 2 * spatial, spatial, spatial)
  }

  /// Per-token rotation angles' cos and sin, [tokens, headDim/2]: each axis's part holds
  /// `position · θ^(−2i/part)` for its own position (frame, row or column), as `WanRotaryPosEmbed`.
  static func rotaryTables(_ b: GraphBuilder, _ config: Config) -> (cos: Tensor, sin: Tensor) {
    let split = rotarySplit(headDim: config.headDim)
    let grid = [config.gridFrames, config.gridHeight, config.gridWidth]
    let parts = [split.frames, split.rows, split.columns].enumerated().map { axis, size -> Tensor in
      let half = size / 2
      let frequencies = b.arange(half, start: 0, step: -2 * Foundation.log(10_000.0) / Double(size)).exp()
      var positionShape = [1, 1, 1, 1]
      positionShape[axis] = grid[axis]
      return (b.arange(grid[axis]).reshape(positionShape) * frequencies.reshape([1, 1, 1, half]))
        .expand(grid + [half])
    }
    let angles = Tensor.concat(parts, axis: -1).reshape([config.tokens, config.headDim / 2])
    return (angles.cos(), angles.sin())
  }

  /// [B, tokens, pt·ph·pw·C] back to a [B, C, F, H, W] latent, as diffusers' unpatchify.
  static func unpatchify(_ x: Tensor, _ config: Config) -> Tensor {
    let (batch, c) = (config.batch, config.outChannels)
    let (pt, ph, pw) = (config.patchFrames, config.patchHeight, config.patchWidth)
    let (gf, gh, gw) = (config.gridFrames, config.gridHeight, config.gridWidth)
    return x.reshape([batch, gf, gh, gw, pt, ph, pw, c])
      .permute([0, 7, 1, 4, 2, 5, 3, 6])
      .reshape([batch, c, gf * pt, gh * ph, gw * pw])
  }
}
