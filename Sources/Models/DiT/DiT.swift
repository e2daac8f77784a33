import Tracer

/// DiT (Peebles & Xie, "Scalable Diffusion Models with Transformers", 2023): a class-conditional
/// latent diffusion transformer with adaLN-Zero blocks and learned σ.
///
/// Parameter names follow diffusers' `DiTTransformer2DModel`. That layout repeats the timestep and
/// class embedders inside every block's `norm1.emb`; the model computes the conditioning once, from
/// block 0's copy, as the paper's model does.
public enum DiT: ReferenceModel {
  public struct Config: ModelConfiguration {
    /// Image side in pixels; the latent side is resolution / 8 (the SD VAE's downsampling).
    public var resolution: Int
    public var patch: Int
    public var hidden: Int
    public var depth: Int
    public var heads: Int
    public var mlpRatio: Int
    public var classes: Int
    public var latentChannels: Int
    /// Predict σ as well as the noise: the output has twice the latent channels.
    public var learnSigma: Bool
    public var batch: Int

    public var latentSize: Int { resolution / 8 }
    public var gridSize: Int { latentSize / patch }
    public var tokens: Int { gridSize * gridSize }
    public var outChannels: Int { learnSigma ? 2 * latentChannels : latentChannels }

    public func validate() throws {
      func require(_ condition: Bool, _ message: String) throws {
        if !condition { throw ModelError.invalidConfig(family: DiT.family, message: message) }
      }
      try require([resolution, patch, hidden, depth, heads, mlpRatio, classes, latentChannels, batch].allSatisfy { $0 >= 1 },
                  "every size must be at least 1")
      try require(resolution % 8 == 0, "resolution \(resolution) is not a multiple of 8 (the VAE's downsampling)")
      try require(latentSize % patch == 0, "latent side \(latentSize) is not a multiple of the patch \(patch)")
      try require(hidden % heads == 0, "hidden \(hidden) is not divisible by heads \(heads)")
      try require(hidden % 4 == 0, "hidden \(hidden) must be a multiple of 4 for the 2-D sin-cos position embedding")
    }
  }

  public static let family = "dit"
  public static let summary = "DiT class-conditional latent diffusion transformer (adaLN-Zero, learned σ)"

  public static var configs: [(name: String, config: Config)] {
    let sizes: [(String, hidden: Int, depth: Int, heads: Int)] = [
      ("s", 384, 12, 6), ("b", 768, 12, 12), ("l", 1024, 24, 16), ("xl", 1152, 28, 16),
    ]
    var configs: [(name: String, config: Config)] = []
    for size in sizes.reversed() {
      for patch in [2, 4, 8] {
        configs.append(("\(size.0)-\(patch)", Config(
          resolution: 256, patch: patch, hidden: size.hidden, depth: size.depth, heads: size.heads,
          mlpRatio: 4, classes: 1000, latentChannels: 4, learnSigma: true, batch: 1)))
      }
    }
    configs.append(("tiny", Config(
      resolution: 64, patch: 2, hidden: 32, depth: 2, heads: 2, mlpRatio: 4, classes: 10,
      latentChannels: 4, learnSigma: true, batch: 2)))
    return configs
  }

  public static func trace(_ config: Config) throws -> Graph {
    try Graph.trace { b in
      let latent = b.input("latent", [config.batch, config.latentChannels, config.latentSize, config.latentSize])
      let timestep = b.input("timestep", [config.batch])
      let classLabel = b.input("class_label", [config.batch], dtype: .i32)
      b.output("noise_pred", forward(b, config, latent: latent, timestep: timestep, classLabel: classLabel))
    }
  }

  /// The denoiser: latent [B, C, h, w], timestep [B], class [B] → noise (and σ) [B, outC, h, w].
  public static func forward(_ b: GraphBuilder, _ config: Config, latent: Tensor, timestep: Tensor, classLabel: Tensor) -> Tensor {
    let (batch, d, grid, p) = (config.batch, config.hidden, config.gridSize, config.patch)

    // Patchify with a p×p stride-p convolution, then add the fixed 2-D sin-cos position embedding.
    var x = b.conv2d("pos_embed.proj", latent, out: d, kernel: p, stride: p)
    x = x.reshape([batch, d, config.tokens]).transposed(1, 2)
    x = x + sincosPositionEmbedding2D(b, dim: d, gridHeight: grid, gridWidth: grid).reshape([1, config.tokens, d])

    let conditioning = b.scope("transformer_blocks.0.norm1.emb") {
      timestepAndClassEmbedding(b, config, timestep: timestep, classLabel: classLabel)
    }
    for index in 0..<config.depth {
      x = b.scope("transformer_blocks.\(index)") { adaLNZeroBlock(b, config, x, conditioning: conditioning) }
    }

    // Final layer: adaLN modulation (shift, scale), then a linear to p·p·outC per token.
    let (shift, scale) = b.scope("proj_out_1") { () -> (Tensor, Tensor) in
      let modulation = linear(silu(conditioning), weight: b.param("weight", [2 * d, d]), bias: b.param("bias", [2 * d]))
      let parts = modulation.chunk(2, axis: 1)
      return (parts[0], parts[1])
    }
    x = modulate(layerNorm(x, eps: 1e-6), shift: shift, scale: scale)
    x = b.linear("proj_out_2", x, out: p * p * config.outChannels)
    return unpatchify(x, config)
  }

  /// Sinusoidal timestep features through a two-layer MLP, plus the class embedding (the table has
  /// one extra row, the null class classifier-free guidance uses).
  static func timestepAndClassEmbedding(_ b: GraphBuilder, _ config: Config, timestep: Tensor, classLabel: Tensor) -> Tensor {
    let frequencies = timestepEmbedding(timestep, dim: 256, flipSinToCos: true, downscaleFreqShift: 1)
    let t = b.scope("timestep_embedder") {
      b.linear("linear_2", silu(b.linear("linear_1", frequencies, out: config.hidden)), out: config.hidden)
    }
    let table = b.scope("class_embedder.embedding_table") { b.param("weight", [config.classes + 1, config.hidden]) }
    return t + table.gather(classLabel)
  }

  /// One DiT block with adaLN-Zero: the conditioning regresses shift, scale and gate for the
  /// attention and the MLP branches.
  static func adaLNZeroBlock(_ b: GraphBuilder, _ config: Config, _ x: Tensor, conditioning: Tensor) -> Tensor {
    let d = config.hidden
    let modulation = b.scope("norm1") { b.linear("linear", silu(conditioning), out: 6 * d) }.chunk(6, axis: 1)
    let (shiftMSA, scaleMSA, gateMSA) = (modulation[0], modulation[1], modulation[2])
    let (shiftMLP, scaleMLP, gateMLP) = (modulation[3], modulation[4], modulation[5])

    let attended = b.scope("attn1") {
      selfAttention(b, modulate(layerNorm(x, eps: 1e-6), shift: shiftMSA, scale: scaleMSA), heads: config.heads)
    }
    let h = x + gateMSA.unsqueeze(1) * attended
    let fed = b.scope("ff.net") {
      let inner = gelu(b.linear("0.proj", modulate(layerNorm(h, eps: 1e-6), shift: shiftMLP, scale: scaleMLP),
                                out: config.mlpRatio * d), approximation: .tanh)
      return b.linear("2", inner, out: d)
    }
    return h + gateMLP.unsqueeze(1) * fed
  }

  /// Multi-head self-attention with diffusers' `to_q`/`to_k`/`to_v`/`to_out.0` projections.
  static func selfAttention(_ b: GraphBuilder, _ x: Tensor, heads: Int) -> Tensor {
    let (batch, tokens, d) = (x.dim(0), x.dim(1), x.dim(2))
    func splitHeads(_ t: Tensor) -> Tensor { t.reshape([batch, tokens, heads, d / heads]).permute([0, 2, 1, 3]) }
    let q = splitHeads(b.linear("to_q", x, out: d))
    let k = splitHeads(b.linear("to_k", x, out: d))
    let v = splitHeads(b.linear("to_v", x, out: d))
    let o = attention(q, k, v).permute([0, 2, 1, 3]).reshape([batch, tokens, d])
    return b.linear("to_out.0", o, out: d)
  }

  /// [B, T, p·p·C] tokens back to a [B, C, h, w] latent (diffusers' `nhwpqc → nchpwq`).
  static func unpatchify(_ x: Tensor, _ config: Config) -> Tensor {
    let (batch, grid, p, c) = (config.batch, config.gridSize, config.patch, config.outChannels)
    return x.reshape([batch, grid, grid, p, p, c])
      .permute([0, 5, 1, 3, 2, 4])
      .reshape([batch, c, grid * p, grid * p])
  }
}
