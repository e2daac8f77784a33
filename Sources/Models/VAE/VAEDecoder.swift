import Tracer

/// The decoder half of Stable Diffusion's KL autoencoder (Rombach et al., "High-Resolution Image
/// Synthesis with Latent Diffusion Models", 2022): latent → pixels, upsampling by 2 in every up
/// block but the last.
///
/// Parameter names follow diffusers' `AutoencoderKL` (`post_quant_conv.*`, `decoder.*`) with the
/// current attention naming (`to_q`, `to_k`, `to_v`, `to_out.0` as linear layers).
public enum VAEDecoder: ReferenceModel {
  public struct Config: ModelConfiguration {
    /// The encoder's block widths, comma-separated (`128,256,512,512`); the decoder walks them
    /// from last to first.
    public var blockOutChannels: String
    /// ResNet blocks per encoder block; each decoder up block has one more.
    public var layersPerBlock: Int
    /// Groups of every group norm.
    public var groups: Int
    public var latentChannels: Int
    public var outChannels: Int
    public var latentHeight: Int
    public var latentWidth: Int
    public var batch: Int

    /// The parsed block widths, or nil when `blockOutChannels` is not a list of integers.
    public var blockWidths: [Int]? {
      let parts = blockOutChannels.split(separator: ",", omittingEmptySubsequences: false)
      let widths = parts.compactMap { Int(String($0.filter { !$0.isWhitespace })) }
      return widths.count == parts.count && !widths.isEmpty ? widths : nil
    }

    /// Pixels per latent element along each side: 2^(blocks − 1).
    public var upscale: Int { 1 << ((blockWidths?.count ?? 1) - 1) }

    public func validate() throws {
      func require(_ condition: Bool, _ message: String) throws {
        if !condition { throw ModelError.invalidConfig(family: VAEDecoder.family, message: message) }
      }
      guard let widths = blockWidths else {
        throw ModelError.invalidConfig(family: VAEDecoder.family,
                                       message: "blockOutChannels '\(blockOutChannels)' is not a comma-separated list of integers")
      }
      // Each block past the first doubles the side: more than 8 would only describe absurd images.
      try require(widths.count <= 8, "blockOutChannels has \(widths.count) blocks; at most 8 are supported")
      try require([layersPerBlock, groups, latentChannels, outChannels, latentHeight, latentWidth, batch].allSatisfy { $0 >= 1 },
                  "every size must be at least 1")
      for width in widths {
        try require(width >= 1 && width % groups == 0,
                    "block width \(width) in blockOutChannels does not split into \(groups) groups")
      }
    }
  }

  public static let family = "sd-vae-decoder"
  public static let summary = "Stable Diffusion VAE (AutoencoderKL) decoder: latent → RGB, ×8 upsampling"

  public static var configs: [(name: String, config: Config)] {
    let sd = Config(blockOutChannels: "128,256,512,512", layersPerBlock: 2, groups: 32, latentChannels: 4,
                    outChannels: 3, latentHeight: 32, latentWidth: 32, batch: 1)
    var sd512 = sd
    (sd512.latentHeight, sd512.latentWidth) = (64, 64)
    // SD's topology at small widths; a non-square latent, so a swapped H and W cannot pass unseen.
    let tiny = Config(blockOutChannels: "16,16,32,32", layersPerBlock: 2, groups: 8, latentChannels: 4,
                      outChannels: 3, latentHeight: 2, latentWidth: 3, batch: 1)
    return [("sd", sd), ("sd-512", sd512), ("tiny", tiny)]
  }

  /// Traces one decode. The input `latent` [B, C, h, w] must already be divided by the VAE's
  /// scaling factor (0.18215 for SD 1.x/2.x) — the caller's job, as in diffusers' pipelines;
  /// the output `sample` [B, 3, h·upscale, w·upscale] is in [-1, 1] before clamping.
  public static func trace(_ config: Config) throws -> Graph {
    guard let widths = config.blockWidths else {
      throw ModelError.invalidConfig(family: family, message: "blockOutChannels '\(config.blockOutChannels)' is not a list of integers")
    }
    return try Graph.trace { b in
      let latent = b.input("latent", [config.batch, config.latentChannels, config.latentHeight, config.latentWidth])
      b.output("sample", decode(b, config, widths: widths, latent: latent))
    }
  }

  /// `post_quant_conv` then the decoder, as `AutoencoderKL.decode` runs them.
  public static func decode(_ b: GraphBuilder, _ config: Config, widths: [Int], latent: Tensor) -> Tensor {
    let z = b.conv2d("post_quant_conv", latent, out: config.latentChannels, kernel: 1)
    return b.scope("decoder") { decoder(b, config, widths: widths, z) }
  }

  static func decoder(_ b: GraphBuilder, _ config: Config, widths: [Int], _ z: Tensor) -> Tensor {
    let reversed = Array(widths.reversed())
    let groups = config.groups
    var x = b.conv2d("conv_in", z, out: reversed[0], kernel: 3, padding: 1)

    x = b.scope("mid_block") {
      var h = b.scope("resnets.0") { resnetBlock(b, x, out: reversed[0], groups: groups) }
      h = b.scope("attentions.0") { spatialSelfAttention(b, h, groups: groups) }
      return b.scope("resnets.1") { resnetBlock(b, h, out: reversed[0], groups: groups) }
    }

    for (index, width) in reversed.enumerated() {
      x = b.scope("up_blocks.\(index)") {
        var h = x
        for layer in 0...config.layersPerBlock {
          h = b.scope("resnets.\(layer)") { resnetBlock(b, h, out: width, groups: groups) }
        }
        if index < reversed.count - 1 {
          h = b.scope("upsamplers.0") { b.conv2d("conv", h.upsampleNearest(2), out: width, kernel: 3, padding: 1) }
        }
        return h
      }
    }

    x = silu(b.groupNorm("conv_norm_out", x, groups: groups, eps: 1e-6))
    return b.conv2d("conv_out", x, out: config.outChannels, kernel: 3, padding: 1)
  }

  /// diffusers' `ResnetBlock2D` without a time embedding: two (GroupNorm, SiLU, 3×3 conv) stages
  /// added to the input, through a 1×1 `conv_shortcut` when the width changes.
  static func resnetBlock(_ b: GraphBuilder, _ x: Tensor, out: Int, groups: Int) -> Tensor {
    var h = b.conv2d("conv1", silu(b.groupNorm("norm1", x, groups: groups, eps: 1e-6)), out: out, kernel: 3, padding: 1)
    h = b.conv2d("conv2", silu(b.groupNorm("norm2", h, groups: groups, eps: 1e-6)), out: out, kernel: 3, padding: 1)
    let shortcut = x.dim(1) == out ? x : b.conv2d("conv_shortcut", x, out: out, kernel: 1)
    return shortcut + h
  }

  /// The mid block's single-head self-attention over all H·W positions, with a residual.
  static func spatialSelfAttention(_ b: GraphBuilder, _ x: Tensor, groups: Int) -> Tensor {
    let (batch, channels, height, width) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
    let normed = b.groupNorm("group_norm", x, groups: groups, eps: 1e-6)
    let tokens = normed.reshape([batch, channels, height * width]).transposed(1, 2)
    let q = b.linear("to_q", tokens, out: channels)
    let k = b.linear("to_k", tokens, out: channels)
    let v = b.linear("to_v", tokens, out: channels)
    let attended = b.linear("to_out.0", attention(q, k, v), out: channels)
    return attended.transposed(1, 2).reshape([batch, channels, height, width]) + x
  }
}
