import Foundation
import Tracer

/// A FLUX.1-style multimodal diffusion transformer (Black Forest Labs, FLUX.1, 2024; the MMDiT of
/// Esser et al., "Scaling Rectified Flow Transformers for High-Resolution Image Synthesis", 2024):
/// double-stream blocks keep separate weights for text and image tokens that meet in one joint
/// attention, then single-stream blocks run attention and the MLP in parallel on the joined
/// sequence. Positions enter only through a 3-axis RoPE.
///
/// Parameter names follow diffusers' `FluxTransformer2DModel`.
public enum MMDiT: ReferenceModel {
  public struct Config: ModelConfiguration {
    /// Image height and width in pixels; the packed latent is 16× smaller on each side (the VAE's
    /// 8× downsampling, then 2×2 patches packed into channels).
    public var height: Int
    public var width: Int
    public var textTokens: Int
    public var heads: Int
    public var headDim: Int
    public var doubleBlocks: Int
    public var singleBlocks: Int
    /// Channels of a packed latent token (16 latent channels × a 2×2 patch for FLUX.1).
    public var packedChannels: Int
    public var textDim: Int
    public var pooledDim: Int
    public var mlpRatio: Int
    /// A guidance-distilled model (FLUX.1-dev) takes the guidance scale as an extra embedded input.
    public var guidance: Bool
    public var batch: Int

    public var hidden: Int { heads * headDim }
    public var gridHeight: Int { height / 16 }
    public var gridWidth: Int { width / 16 }
    public var imageTokens: Int { gridHeight * gridWidth }

    public func validate() throws {
      func require(_ condition: Bool, _ message: String) throws {
        if !condition { throw ModelError.invalidConfig(family: MMDiT.family, message: message) }
      }
      try require([height, width, textTokens, heads, headDim, doubleBlocks + singleBlocks, packedChannels, textDim,
                   pooledDim, mlpRatio, batch].allSatisfy { $0 >= 1 },
                  "every size must be at least 1, and there must be at least one block")
      try require(doubleBlocks >= 0 && singleBlocks >= 0, "block counts cannot be negative")
      try require(height % 16 == 0, "height \(height) is not a multiple of 16 (VAE downsampling × 2×2 packing)")
      try require(width % 16 == 0, "width \(width) is not a multiple of 16 (VAE downsampling × 2×2 packing)")
      try require(headDim % 32 == 0,
                  "head dim \(headDim) is not a multiple of 32, which the RoPE axes (headDim/8, 7·headDim/16 ×2) need")
    }
  }

  public static let family = "mmdit"
  public static let summary = "FLUX.1-style MMDiT (double- and single-stream blocks, joint attention, 3-axis RoPE)"

  /// Width of the sinusoidal timestep (and guidance) features.
  static let timeFrequencyDim = 256
  /// Epsilon of every layer and RMS norm in the model.
  static let normEps = 1e-6

  public static var configs: [(name: String, config: Config)] {
    [
      ("small", Config(
        height: 256, width: 256, textTokens: 64, heads: 8, headDim: 64, doubleBlocks: 2, singleBlocks: 4,
        packedChannels: 64, textDim: 1024, pooledDim: 768, mlpRatio: 4, guidance: true, batch: 1)),
      // FLUX.1-dev at 1024×1024 with 512 T5 tokens.
      ("flux1", Config(
        height: 1024, width: 1024, textTokens: 512, heads: 24, headDim: 128, doubleBlocks: 19, singleBlocks: 38,
        packedChannels: 64, textDim: 4096, pooledDim: 768, mlpRatio: 4, guidance: true, batch: 1)),
      ("tiny", Config(
        height: 64, width: 48, textTokens: 5, heads: 2, headDim: 32, doubleBlocks: 2, singleBlocks: 2,
        packedChannels: 16, textDim: 24, pooledDim: 12, mlpRatio: 4, guidance: true, batch: 2)),
    ]
  }

  /// FLUX.1's RoPE axes (16, 56, 56) for head dim 128, scaled with the head dim.
  public static func ropeAxes(headDim: Int) -> [Int] {
    [headDim / 8, 7 * headDim / 16, 7 * headDim / 16]
  }

  public static func trace(_ config: Config) throws -> Graph {
    try config.validate()
    return try Graph.trace { b in
      let image = b.input("hidden_states", [config.batch, config.imageTokens, config.packedChannels])
      let text = b.input("encoder_hidden_states", [config.batch, config.textTokens, config.textDim])
      let pooled = b.input("pooled_projections", [config.batch, config.pooledDim])
      let timestep = b.input("timestep", [config.batch])
      let guidance = config.guidance ? b.input("guidance", [config.batch]) : nil
      b.output("noise_pred", forward(b, config, image: image, text: text, pooled: pooled,
                                     timestep: timestep, guidance: guidance))
    }
  }

  /// The denoiser: packed latent tokens [B, N_img, C], text [B, N_txt, textDim], pooled text
  /// [B, pooledDim], timestep (and guidance) [B] → velocity [B, N_img, C].
  public static func forward(_ b: GraphBuilder, _ config: Config, image: Tensor, text: Tensor, pooled: Tensor,
                             timestep: Tensor, guidance: Tensor?) -> Tensor {
    let d = config.hidden
    var x = b.linear("x_embedder", image, out: d)
    var context = b.linear("context_embedder", text, out: d)
    let conditioning = b.scope("time_text_embed") {
      timeTextEmbedding(b, config, timestep: timestep, guidance: guidance, pooled: pooled)
    }
    let (cos, sin) = rotaryTables(b, config)

    for index in 0..<config.doubleBlocks {
      (x, context) = b.scope("transformer_blocks.\(index)") {
        doubleStreamBlock(b, config, x, context: context, conditioning: conditioning, cos: cos, sin: sin)
      }
    }
    var joined = Tensor.concat([context, x], axis: 1)
    for index in 0..<config.singleBlocks {
      joined = b.scope("single_transformer_blocks.\(index)") {
        singleStreamBlock(b, config, joined, conditioning: conditioning, cos: cos, sin: sin)
      }
    }
    x = joined.slice(axis: 1, config.textTokens..<(config.textTokens + config.imageTokens))

    // AdaLayerNormContinuous: the projection gives the scale first, then the shift.
    let modulation = b.scope("norm_out") { b.linear("linear", silu(conditioning), out: 2 * d) }.chunk(2, axis: 1)
    x = modulate(layerNorm(x, eps: normEps), shift: modulation[1], scale: modulation[0])
    return b.linear("proj_out", x, out: config.packedChannels)
  }

  /// diffusers' `CombinedTimestep(Guidance)TextProjEmbeddings`: timestep (and guidance) embedded
  /// from sinusoidal features, plus the pooled text projected to the width. Both scalars arrive
  /// in [0, 1] and are scaled by 1000 first, as `FluxTransformer2DModel.forward` does.
  static func timeTextEmbedding(_ b: GraphBuilder, _ config: Config, timestep: Tensor, guidance: Tensor?,
                                pooled: Tensor) -> Tensor {
    let d = config.hidden
    func embedScalar(_ name: String, _ value: Tensor) -> Tensor {
      let features = timestepEmbedding(value * 1000.0, dim: timeFrequencyDim, flipSinToCos: true, downscaleFreqShift: 0)
      return b.scope(name) { b.linear("linear_2", silu(b.linear("linear_1", features, out: d)), out: d) }
    }
    var embedding = embedScalar("timestep_embedder", timestep)
    if let guidance { embedding = embedding + embedScalar("guidance_embedder", guidance) }
    let pooledEmbedding = b.scope("text_embedder") {
      b.linear("linear_2", silu(b.linear("linear_1", pooled, out: d)), out: d)
    }
    return embedding + pooledEmbedding
  }

  /// `FluxTransformerBlock`: each stream has its own adaLN-Zero modulation, projections and MLP;
  /// the streams meet only in the joint attention over concat(text, image).
  static func doubleStreamBlock(_ b: GraphBuilder, _ config: Config, _ x: Tensor, context: Tensor,
                                conditioning: Tensor, cos: Tensor, sin: Tensor) -> (image: Tensor, text: Tensor) {
    let d = config.hidden
    func adaLNZero(_ name: String) -> [Tensor] {
      b.scope(name) { b.linear("linear", silu(conditioning), out: 6 * d) }.chunk(6, axis: 1)
    }
    // Chunks: shift, scale, gate for attention; shift, scale, gate for the MLP.
    let m = adaLNZero("norm1")
    let c = adaLNZero("norm1_context")
    let normed = modulate(layerNorm(x, eps: normEps), shift: m[0], scale: m[1])
    let normedContext = modulate(layerNorm(context, eps: normEps), shift: c[0], scale: c[1])

    let (attended, contextAttended) = b.scope("attn") { () -> (Tensor, Tensor) in
      let q = Tensor.concat([headsOf(b, config, "add_q_proj", normedContext, norm: "norm_added_q"),
                             headsOf(b, config, "to_q", normed, norm: "norm_q")], axis: 2)
      let k = Tensor.concat([headsOf(b, config, "add_k_proj", normedContext, norm: "norm_added_k"),
                             headsOf(b, config, "to_k", normed, norm: "norm_k")], axis: 2)
      let v = Tensor.concat([headsOf(b, config, "add_v_proj", normedContext, norm: nil),
                             headsOf(b, config, "to_v", normed, norm: nil)], axis: 2)
      let o = jointAttention(config, q: q, k: k, v: v, cos: cos, sin: sin)
      let textPart = o.slice(axis: 1, 0..<config.textTokens)
      let imagePart = o.slice(axis: 1, config.textTokens..<(config.textTokens + config.imageTokens))
      return (b.linear("to_out.0", imagePart, out: d), b.linear("to_add_out", textPart, out: d))
    }

    var h = x + m[2].unsqueeze(1) * attended
    h = h + m[5].unsqueeze(1) * feedForward(b, config, "ff", modulate(layerNorm(h, eps: normEps), shift: m[3], scale: m[4]))
    var t = context + c[2].unsqueeze(1) * contextAttended
    t = t + c[5].unsqueeze(1)
      * feedForward(b, config, "ff_context", modulate(layerNorm(t, eps: normEps), shift: c[3], scale: c[4]))
    return (h, t)
  }

  /// `FluxSingleTransformerBlock`: attention and the MLP read the same modulated input in
  /// parallel; one projection merges concat(attention, MLP) back to the width.
  static func singleStreamBlock(_ b: GraphBuilder, _ config: Config, _ x: Tensor, conditioning: Tensor,
                                cos: Tensor, sin: Tensor) -> Tensor {
    let d = config.hidden
    let m = b.scope("norm") { b.linear("linear", silu(conditioning), out: 3 * d) }.chunk(3, axis: 1)
    let (shift, scale, gate) = (m[0], m[1], m[2])
    let normed = modulate(layerNorm(x, eps: normEps), shift: shift, scale: scale)
    let mlp = gelu(b.linear("proj_mlp", normed, out: config.mlpRatio * d), approximation: .tanh)
    let attended = b.scope("attn") {
      jointAttention(config,
                     q: headsOf(b, config, "to_q", normed, norm: "norm_q"),
                     k: headsOf(b, config, "to_k", normed, norm: "norm_k"),
                     v: headsOf(b, config, "to_v", normed, norm: nil),
                     cos: cos, sin: sin)
    }
    return x + gate.unsqueeze(1) * b.linear("proj_out", Tensor.concat([attended, mlp], axis: 2), out: d)
  }

  /// A projection split into heads, [B, heads, tokens, headDim], with FLUX's per-head RMS norm.
  static func headsOf(_ b: GraphBuilder, _ config: Config, _ projection: String, _ x: Tensor, norm: String?) -> Tensor {
    var t = b.linear(projection, x, out: config.hidden).reshape([x.dim(0), x.dim(1), config.heads, config.headDim])
    if let norm { t = b.rmsNorm(norm, t, eps: normEps) }
    return t.permute([0, 2, 1, 3])
  }

  /// Attention over the joined sequence with RoPE on q and k; heads merged back, [B, tokens, D].
  static func jointAttention(_ config: Config, q: Tensor, k: Tensor, v: Tensor, cos: Tensor, sin: Tensor) -> Tensor {
    let o = attention(rope(q, cos: cos, sin: sin, layout: .interleaved),
                      rope(k, cos: cos, sin: sin, layout: .interleaved), v)
    return o.permute([0, 2, 1, 3]).reshape([q.dim(0), q.dim(2), config.hidden])
  }

  /// diffusers' `FeedForward` with tanh GELU, named `name.net.0.proj` and `name.net.2`.
  static func feedForward(_ b: GraphBuilder, _ config: Config, _ name: String, _ x: Tensor) -> Tensor {
    b.scope(name + ".net") {
      b.linear("2", gelu(b.linear("0.proj", x, out: config.mlpRatio * config.hidden), approximation: .tanh),
               out: config.hidden)
    }
  }

  /// `FluxPosEmbed` of the ids concat(text, image): text ids are (0, 0, 0), image ids (0, row, col).
  /// Each axis contributes `id · θ^(−2i/axisDim)` for i < axisDim/2; result [tokens, headDim/2].
  static func rotaryTables(_ b: GraphBuilder, _ config: Config) -> (cos: Tensor, sin: Tensor) {
    let (rows, columns, textTokens) = (config.gridHeight, config.gridWidth, config.textTokens)
    let tokens = textTokens + config.imageTokens
    let textIds = b.constant(.splat(0), [textTokens])
    let imageIds = [
      b.constant(.splat(0), [config.imageTokens]),
      b.arange(rows).reshape([rows, 1]).expand([rows, columns]).reshape([config.imageTokens]),
      b.arange(columns).reshape([1, columns]).expand([rows, columns]).reshape([config.imageTokens]),
    ]
    let parts = zip(ropeAxes(headDim: config.headDim), imageIds).map { axisDim, image -> Tensor in
      let half = axisDim / 2
      let ids = Tensor.concat([textIds, image], axis: 0).reshape([tokens, 1])
      let frequencies = b.arange(half, start: 0, step: -2 * Foundation.log(10_000.0) / Double(axisDim)).exp()
      return ids * frequencies.reshape([1, half])
    }
    let angles = Tensor.concat(parts, axis: -1)
    return (angles.cos(), angles.sin())
  }
}
