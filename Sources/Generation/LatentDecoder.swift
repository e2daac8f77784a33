import Foundation
import Runtime
import Tracer

/// How a denoiser's latent is brought to the VAE's input: z / scale + shift.
public struct LatentScaling: Sendable, Codable, Equatable {
  public var scale: Float
  public var shift: Float

  public init(scale: Float, shift: Float) {
    self.scale = scale
    self.shift = shift
  }

  /// Stable Diffusion 1.x/2.x and DiT: z / 0.18215.
  public static let stableDiffusion = LatentScaling(scale: 0.18215, shift: 0)
  /// FLUX.1's 16-channel VAE: z / 0.3611 + 0.1159.
  public static let flux = LatentScaling(scale: 0.3611, shift: 0.1159)
  /// Latents passed as they are.
  public static let identity = LatentScaling(scale: 1, shift: 0)
}

/// The sd-vae-decoder built once for one latent size and channel count, decoding one latent
/// [C, h, w] per call into an RGB image.
public final class LatentDecoder {
  public let session: ModelSession
  public let scaling: LatentScaling
  public let latentShape: [Int]
  public let imageWidth: Int
  public let imageHeight: Int

  /// - Parameters:
  ///   - config: the sd-vae-decoder config (`sd`, `tiny`, …); its latent size, channel count and
  ///     batch are set here.
  ///   - weightsFolder: a diffusers `AutoencoderKL` folder; nil: seeded weights.
  public init(config: String, latentChannels: Int, latentHeight: Int, latentWidth: Int, overrides: [String: String] = [:],
              weightsFolder: URL?, weightSeed: UInt64, scaling: LatentScaling, options: ExecutionOptions) throws {
    var settings = overrides
    settings["latentChannels"] = "\(latentChannels)"
    settings["latentHeight"] = "\(latentHeight)"
    settings["latentWidth"] = "\(latentWidth)"
    settings["batch"] = "1"
    session = try ModelSession(family: "sd-vae-decoder", config: config, overrides: settings, weightsFolder: weightsFolder,
                               weightSeed: weightSeed, options: options)
    // A folder's config.json may set another channel count; the latent decides.
    let input = try session.inputShape("latent").dims
    guard input == [1, latentChannels, latentHeight, latentWidth] else {
      throw GenerationError.model(
        "VAE: its latent input is \(input), the denoiser produces [1, \(latentChannels), \(latentHeight), \(latentWidth)]")
    }
    guard let output = session.graph.outputs.first(where: { $0.name == "sample" }) else {
      throw GenerationError.model("VAE: the decoder graph has no output 'sample'")
    }
    let dims = session.graph[output.node].shape.dims
    guard dims.count == 4, dims[1] == 3 else {
      throw GenerationError.model("VAE: decoder output is \(dims); an RGB image [1, 3, H, W] is needed (outChannels=3)")
    }
    latentShape = input
    imageHeight = dims[2]
    imageWidth = dims[3]
    self.scaling = scaling
  }

  /// Decodes one latent [C·h·w] (unscaled, as the denoiser leaves it).
  public func decode(_ latent: ArraySlice<Float>) throws -> RGBImage {
    let scaled = latent.map { $0 / scaling.scale + scaling.shift }
    let tensor = try RuntimeTensor(shape: Shape(latentShape), floats: scaled)
    let sample = try session.run(["latent": tensor], output: "sample")
    return try RGBImage(planes: sample[...], width: imageWidth, height: imageHeight)
  }
}
