import ArgumentParser
import Codegen
import Foundation
import Generation
import Models
import Runtime

/// `kiln generate MODEL …`: a whole generation (denoising loop + VAE decode → PNG, or PNG frames
/// and a GIF preview for video), timed.
struct Generate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Generate an image (dit, mmdit) or a video (video-dit) end to end and time it.",
    discussion: """
      dit (class-conditional): DDIM (η = 0) or DDPM over DiT's 1000-step linear β schedule, classifier-free \
      guidance with the conditional and null-class latents in one batch-2 forward pass (--cfg 1 turns it off), \
      latent / 0.18215 decoded by the SD VAE decoder.
      mmdit (text-to-image): flow-matching Euler over FLUX.1's σ schedule with its resolution-dependent shift, \
      or a fixed --shift; --cfg is the distilled guidance the model embeds. Text embeddings come from \
      --text-embeddings (a safetensors file with 'encoder_hidden_states' and 'pooled_projections' shaped as the \
      model's inputs at batch 1) or are seeded. The packed latent is unpacked from 2×2 patches and decoded by \
      the SD VAE decoder's architecture with the model's latent channel count (16 for FLUX.1), \
      z / 0.3611 + 0.1159.
      video-dit (text-to-video): flow-matching Euler with Wan's shift σ' = shift·σ / (1 + (shift − 1)·σ) \
      (--shift, default 5), model timestep σ·1000; text from --text-embeddings ('text_embeddings') or seeded. \
      Every latent frame is decoded by the SD VAE decoder's architecture with the model's channel count \
      (latents unscaled); -o names a folder that receives frame-000.png, … and preview.gif.
      Weights: without --weights every model runs on seeded weights and the output says so. --weights DIR is \
      laid out as a diffusers pipeline folder: DIR/transformer and DIR/vae, each with config.json and \
      diffusion_pytorch_model.safetensors (or its index); the configs set the models' sizes, --set and \
      --vae-set still win. A VAE whose weights are seeded is only a decoder of the right shape: its pixels \
      show the pipeline runs, not a picture.
      Every denoising step runs on the --executor; one executor per model is built once and reused. The \
      same seed, model, profile and thread count give the same bytes.
      """)

  @Argument(help: "dit-xl-2 (or any dit config), mmdit[-config], video-dit[-config]; see `kiln models`.")
  var model: String

  @Option(name: .customLong("set"), parsing: .singleValue,
          help: ArgumentHelp("Override one setting of the denoiser's config.", valueName: "key=value"))
  var settings: [String] = []

  @Option(name: .customLong("class"), help: "dit: the ImageNet class to generate (207: golden retriever).")
  var classLabel = 207

  @Option(help: "Denoising steps.")
  var steps = 50

  @Option(help: "dit: classifier-free guidance scale (1 = off). mmdit: the embedded guidance value.")
  var cfg: Float?

  @Option(help: "Seed of the starting noise (and of seeded text embeddings).")
  var seed: UInt64 = 0

  @Option(help: "A folder with transformer/ and vae/ diffusers subfolders.")
  var weights: String?

  @Option(help: "dit: ddim or ddpm.")
  var sampler: DiTPipeline.Sampler = .ddim

  @Option(help: "compiled, naive or eager-blas.")
  var executor: ExecutionOptions.ExecutorKind = .compiled

  @Option(help: "Team size (default: one thread per CPU).")
  var threads: Int?

  @Option(help: "Hardware profile of the compiled and naive executors: native or a built-in name.")
  var profile = HardwareProfile.nativeName

  @Option(help: "mmdit, video-dit: a safetensors file holding the text embeddings by input name.")
  var textEmbeddings: String?

  @Option(help: "mmdit: a fixed σ shift instead of the resolution-dependent one. video-dit: Wan's shift (default 5).")
  var shift: Double?

  @Option(help: "video-dit: video frames, 4k + 1 (the latent has (frames − 1)/4 + 1).")
  var frames: Int?

  @Option(help: "The sd-vae-decoder config that decodes the latent.")
  var vaeConfig = "sd"

  @Option(name: .customLong("vae-set"), parsing: .singleValue,
          help: ArgumentHelp("Override one setting of the VAE decoder's config.", valueName: "key=value"))
  var vaeSettings: [String] = []

  @Option(name: .shortAndLong, help: "The PNG to write (dit, mmdit) or the folder for the frames (video-dit).")
  var output: String?

  @Flag(help: "Print the summary as JSON.")
  var json = false

  func validate() throws {
    guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
  }

  func run() throws {
    let options = ExecutionOptions(executor: executor, threads: try threads ?? Topology.current().cpuCount, profile: profile)
    let common = GenerationCommon(
      model: model, overrides: try Self.parse(settings, option: "--set"), steps: steps, seed: seed,
      weights: weights.map { URL(fileURLWithPath: $0) }, vaeConfig: vaeConfig,
      vaeOverrides: try Self.parse(vaeSettings, option: "--vae-set"))
    let pipelineSettings = AnyPipeline.Settings(
      classLabel: classLabel, guidance: cfg, sampler: sampler,
      text: textEmbeddings.map { .file(URL(fileURLWithPath: $0)) } ?? .seeded, shift: shift, frames: frames)
    let summary = try AnyPipeline.generate(
      common, settings: pipelineSettings, options: options,
      to: try output.map { URL(fileURLWithPath: $0) } ?? AnyPipeline.defaultOutput(for: model),
      progress: json ? nil : ConsoleProgress())
    if json {
      try printJSON(summary)
    } else {
      print(summary.text)
    }
  }

  static func parse(_ settings: [String], option: String) throws -> [String: String] {
    var overrides: [String: String] = [:]
    for setting in settings {
      let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("\(option) expects key=value, got '\(setting)'") }
      overrides[parts[0]] = parts[1]
    }
    return overrides
  }
}

extension DiTPipeline.Sampler: ExpressibleByArgument {}
extension ExecutionOptions.ExecutorKind: ExpressibleByArgument {}
