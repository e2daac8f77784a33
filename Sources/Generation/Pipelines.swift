import Foundation
import Models
import Runtime
import Tracer

/// What every generation is given besides its model-specific fields.
public struct GenerationCommon: Sendable {
  /// A registry name: `dit-xl-2`, `mmdit-tiny`, `video-dit-small`, …
  public var model: String
  /// `--set` overrides of the denoiser's config (they win over a folder's config.json).
  public var overrides: [String: String]
  public var steps: Int
  public var seed: UInt64
  /// A folder with `transformer/` and `vae/` diffusers subfolders; nil: seeded weights.
  public var weights: URL?
  /// The sd-vae-decoder config whose topology decodes the latent (`sd`, or `tiny` in tests).
  public var vaeConfig: String
  public var vaeOverrides: [String: String]

  public init(model: String, overrides: [String: String] = [:], steps: Int, seed: UInt64, weights: URL? = nil,
              vaeConfig: String = "sd", vaeOverrides: [String: String] = [:]) {
    self.model = model
    self.overrides = overrides
    self.steps = steps
    self.seed = seed
    self.weights = weights
    self.vaeConfig = vaeConfig
    self.vaeOverrides = vaeOverrides
  }

  /// Seeds of the seeded weights: fixed, so that `--seed` changes only the noise, as it would
  /// with a real checkpoint.
  static let denoiserWeightSeed: UInt64 = 0
  static let vaeWeightSeed: UInt64 = 1

  func resolve(family expected: String) throws -> (family: ModelFamily, config: String) {
    let resolved = try ModelRegistry.resolve(model)
    guard resolved.family.name == expected else {
      throw GenerationError.invalidRequest("\(model) is a \(resolved.family.name) model; this pipeline runs \(expected) models")
    }
    return resolved
  }

  /// The diffusers subfolder `name` of `weights`, required when weights are given.
  func weightsSubfolder(_ name: String) throws -> URL? {
    guard let weights else { return nil }
    let folder = weights.appendingPathComponent(name)
    guard DiffusersFolder.isFolder(folder) else {
      throw GenerationError.invalidRequest(
        "--weights: \(weights.path) has no diffusers folder '\(name)/' (config.json + diffusion_pytorch_model.safetensors)")
    }
    return folder
  }

  /// An integer setting of the traced config: the override if given, else the config's value.
  static func setting(_ key: String, family: ModelFamily, config: String, overrides: [String: String]) throws -> Int {
    let text = overrides[key] ?? family.settings(of: config)?.first { $0.key == key }?.value
    guard let text, let value = Int(text) else { throw GenerationError.model("\(family.name)-\(config) has no integer setting '\(key)'") }
    return value
  }
}

func tensor(_ shape: [Int], _ values: [Float]) throws -> RuntimeTensor { try RuntimeTensor(shape: Shape(shape), floats: values) }

/// The denoising-time summary shared by every pipeline.
func summarize(model: String, sampler: String, common: GenerationCommon, options: ExecutionOptions, denoiser: ModelSession,
               decoder: LatentDecoder, setup: Double, denoise: Double, vae: Double, total: Double, images: Int, frames: Int,
               files: [URL]) -> GenerationSummary {
  let minutes = total / 60
  return GenerationSummary(
    model: model, executor: options.executor.rawValue, threads: options.threads, sampler: sampler, seed: common.seed,
    weights: denoiser.weightsOrigin, vaeWeights: decoder.session.weightsOrigin, steps: common.steps,
    secondsPerStep: denoise / Double(max(common.steps, 1)), denoiseSeconds: denoise, vaeSeconds: vae, setupSeconds: setup,
    totalSeconds: total, gflops: denoise > 0 ? Double(denoiser.flops) * Double(common.steps) / denoise / 1e9 : 0,
    images: images, frames: frames, imagesPerMinute: minutes > 0 ? Double(images) / minutes : 0,
    framesPerMinute: minutes > 0 && frames > 0 ? Double(frames) / minutes : 0, files: files.map(\.path))
}

// MARK: - DiT, class-conditional

/// Class-conditional image generation with DiT: DDIM (η = 0) or DDPM over the 1000-step linear
/// β schedule, classifier-free guidance with the conditional and null-class latents in one
/// batch-2 forward pass (null class = the config's `classes`), the latent decoded by the SD VAE
/// (z / 0.18215) and written as PNG.
public final class DiTPipeline {
  public enum Sampler: String, Sendable, CaseIterable, Codable {
    case ddim, ddpm
  }

  public let common: GenerationCommon
  public let classLabel: Int
  public let guidanceScale: Float
  public let sampler: Sampler
  public let options: ExecutionOptions
  public let denoiser: ModelSession
  public let decoder: LatentDecoder
  public let setupSeconds: Double
  private let latentShape: [Int]
  private let outChannels: Int
  private let nullClass: Int

  /// Traces both models, loads or seeds their weights and builds one executor for each.
  public init(_ common: GenerationCommon, classLabel: Int, guidanceScale: Float, sampler: Sampler,
              options: ExecutionOptions) throws {
    let start = now()
    let (family, config) = try common.resolve(family: "dit")
    guard guidanceScale.isFinite, guidanceScale >= 1 else {
      throw GenerationError.invalidRequest("--cfg must be at least 1 (1 turns guidance off), got \(guidanceScale)")
    }
    var overrides = common.overrides
    overrides["batch"] = guidanceScale > 1 ? "2" : "1"
    if common.weights == nil {
      // Refused before compiling; with a folder, its config.json decides the class count.
      let classes = try GenerationCommon.setting("classes", family: family, config: config, overrides: overrides)
      guard classLabel >= 0, classLabel < classes else {
        throw GenerationError.invalidRequest("--class must be in 0...\(classes - 1) for \(common.model), got \(classLabel)")
      }
    }
    denoiser = try ModelSession(family: family.name, config: config, overrides: overrides,
                                weightsFolder: try common.weightsSubfolder("transformer"),
                                weightSeed: GenerationCommon.denoiserWeightSeed, options: options)
    latentShape = try denoiser.inputShape("latent").dims
    guard let output = denoiser.graph.outputs.first(where: { $0.name == "noise_pred" }) else {
      throw GenerationError.model("\(denoiser.title) has no output 'noise_pred'")
    }
    outChannels = denoiser.graph[output.node].shape.dims[1]
    guard let table = denoiser.graph.params.first(where: { $0.name.hasSuffix("class_embedder.embedding_table.weight") }) else {
      throw GenerationError.model("\(denoiser.title) has no class embedding table")
    }
    nullClass = denoiser.graph[table.node].shape.dims[0] - 1
    guard classLabel >= 0, classLabel < nullClass else {
      throw GenerationError.invalidRequest("--class must be in 0...\(nullClass - 1) for \(denoiser.title), got \(classLabel)")
    }
    decoder = try LatentDecoder(config: common.vaeConfig, latentChannels: latentShape[1], latentHeight: latentShape[2],
                                latentWidth: latentShape[3], overrides: common.vaeOverrides,
                                weightsFolder: try common.weightsSubfolder("vae"), weightSeed: GenerationCommon.vaeWeightSeed,
                                scaling: .stableDiffusion, options: options)
    self.common = common
    self.classLabel = classLabel
    self.guidanceScale = guidanceScale
    self.sampler = sampler
    self.options = options
    setupSeconds = now() - start
  }

  /// Denoises from the seed's noise, decodes and writes the PNG to `output`.
  public func generate(to output: URL, progress: (any GenerationProgress)? = nil) throws -> GenerationSummary {
    let start = now()
    let (batch, channels, height, width) = (latentShape[0], latentShape[1], latentShape[2], latentShape[3])
    let plane = height * width
    let count = channels * plane
    var noise = GaussianNoise(seed: common.seed)
    var latent = noise.next(count: count)
    let ddim = try DDIMSampler(steps: common.steps)
    let ddpm = try DDPMSampler(steps: common.steps)
    let timesteps = ddim.timesteps
    let labels = try RuntimeTensor.indices([classLabel, nullClass].prefix(batch))
    progress?.began("denoising: \(common.steps) \(sampler.rawValue) steps, class \(classLabel), guidance \(guidanceScale)")

    let denoise = try timedSteps(common.steps, progress: progress) { index in
      let t = timesteps[index]
      let inputs = [
        "latent": try tensor(latentShape, Array([[Float]](repeating: latent, count: batch).joined())),
        "timestep": try tensor([batch], [Float](repeating: Float(t), count: batch)),
        "class_label": labels,
      ]
      let prediction = try denoiser.run(inputs)
      let guided: (noise: [Float], varianceValues: [Float]?) = batch == 2
        ? ClassifierFreeGuidance.apply(output: prediction, outChannels: outChannels, latentChannels: channels, plane: plane,
                                       scale: guidanceScale)
        : (Array(prediction[0..<count]), outChannels >= 2 * channels ? Array(prediction[count..<(2 * count)]) : nil)
      switch sampler {
      case .ddim:
        // DDIM is deterministic: the learned σ channels are dropped.
        latent = ddim.step(sample: latent, noise: guided.noise, index: index)
      case .ddpm:
        latent = ddpm.step(sample: latent, predictedNoise: guided.noise, varianceValues: guided.varianceValues, index: index,
                           noise: &noise)
      }
    }

    progress?.began("decoding with the VAE")
    let vaeStart = now()
    let image = try decoder.decode(latent[...])
    let vae = now() - vaeStart
    try PNGWriter.write(image, to: output)
    let total = setupSeconds + (now() - start)
    return summarize(model: denoiser.title, sampler: sampler.rawValue, common: common, options: options, denoiser: denoiser,
                     decoder: decoder, setup: setupSeconds, denoise: denoise, vae: vae, total: total, images: 1, frames: 0,
                     files: [output])
  }
}

extension RuntimeTensor {
  static func indices<Values: Collection>(_ values: Values) throws -> RuntimeTensor where Values.Element == Int {
    try RuntimeTensor(shape: Shape([values.count]), storage: .i32(values.map { Int32($0) }))
  }
}

// MARK: - Text conditioning

/// Text conditioning for the MMDiT and the video DiT: tensors read from a safetensors file by the
/// model's input names, or seeded (N(0, 0.1²), `SeededInputs`' rule for conditioning).
public enum TextConditioning: Sendable {
  case seeded
  case file(URL)

  var description: String {
    switch self {
    case .seeded: return "seeded text embeddings"
    case .file(let url): return "text embeddings from \(url.path)"
    }
  }

  func tensors(named names: [String], for session: ModelSession, seed: UInt64) throws -> [String: RuntimeTensor] {
    switch self {
    case .seeded:
      let all = try SeededInputs.make(for: session.graph, seed: seed, timestep: 0)
      return all.filter { names.contains($0.key) }
    case .file(let url):
      let file = try SafetensorsFile(contentsOf: url)
      var result: [String: RuntimeTensor] = [:]
      for name in names {
        guard file.entries[name] != nil else {
          throw GenerationError.invalidRequest("--text-embeddings: \(url.lastPathComponent) has no tensor '\(name)', an input of \(session.title)")
        }
        let loaded = try file.tensor(named: name)
        let needed = try session.inputShape(name)
        guard loaded.shape == needed else {
          throw GenerationError.invalidRequest("--text-embeddings: tensor '\(name)' has shape \(loaded.shape), \(session.title) needs \(needed)")
        }
        result[name] = try RuntimeTensor(shape: loaded.shape, floats: loaded.floats)
      }
      return result
    }
  }
}

// MARK: - MMDiT, text-to-image

/// Text-to-image with the FLUX.1-style MMDiT: flow-matching Euler steps over FLUX's σ schedule
/// (resolution-dependent shift μ, or a fixed shift when one is given), the packed latent
/// unpacked from 2×2 patches to [C, H/8, W/8] and decoded by the SD VAE decoder's architecture
/// with C latent channels (z / 0.3611 + 0.1159, FLUX's VAE scaling).
public final class MMDiTPipeline {
  public let common: GenerationCommon
  public let text: TextConditioning
  public let guidance: Float
  public let fixedShift: Double?
  public let options: ExecutionOptions
  public let denoiser: ModelSession
  public let decoder: LatentDecoder
  public let setupSeconds: Double
  private let packedShape: [Int]
  private let gridHeight: Int
  private let gridWidth: Int

  public init(_ common: GenerationCommon, text: TextConditioning, guidance: Float, fixedShift: Double?,
              options: ExecutionOptions) throws {
    let start = now()
    let (family, config) = try common.resolve(family: "mmdit")
    var overrides = common.overrides
    overrides["batch"] = "1"
    denoiser = try ModelSession(family: family.name, config: config, overrides: overrides,
                                weightsFolder: try common.weightsSubfolder("transformer"),
                                weightSeed: GenerationCommon.denoiserWeightSeed, options: options)
    packedShape = try denoiser.inputShape("hidden_states").dims
    gridHeight = try GenerationCommon.setting("height", family: family, config: config, overrides: overrides) / 16
    gridWidth = try GenerationCommon.setting("width", family: family, config: config, overrides: overrides) / 16
    guard packedShape[2] % 4 == 0, gridHeight * gridWidth == packedShape[1] else {
      throw GenerationError.model("\(denoiser.title): packed latent \(packedShape) is not 2×2 patches of a \(gridHeight)×\(gridWidth) grid")
    }
    decoder = try LatentDecoder(config: common.vaeConfig, latentChannels: packedShape[2] / 4, latentHeight: 2 * gridHeight,
                                latentWidth: 2 * gridWidth, overrides: common.vaeOverrides,
                                weightsFolder: try common.weightsSubfolder("vae"), weightSeed: GenerationCommon.vaeWeightSeed,
                                scaling: .flux, options: options)
    if let fixedShift, !(fixedShift > 0 && fixedShift.isFinite) {
      throw GenerationError.invalidRequest("--shift must be positive, got \(fixedShift)")
    }
    self.common = common
    self.text = text
    self.guidance = guidance
    self.fixedShift = fixedShift
    self.options = options
    setupSeconds = now() - start
  }

  /// FLUX's 2×2 packing, [C, 2gh, 2gw] ↔ [gh·gw, C·4] with channel index c·4 + dy·2 + dx.
  static func pack(_ latent: [Float], channels: Int, gridHeight: Int, gridWidth: Int) -> [Float] {
    var packed = [Float](repeating: 0, count: latent.count)
    let (height, width) = (2 * gridHeight, 2 * gridWidth)
    for c in 0..<channels {
      for y in 0..<height {
        for x in 0..<width {
          let token = (y / 2) * gridWidth + x / 2
          packed[token * channels * 4 + c * 4 + (y % 2) * 2 + x % 2] = latent[(c * height + y) * width + x]
        }
      }
    }
    return packed
  }

  static func unpack(_ packed: [Float], channels: Int, gridHeight: Int, gridWidth: Int) -> [Float] {
    var latent = [Float](repeating: 0, count: packed.count)
    let (height, width) = (2 * gridHeight, 2 * gridWidth)
    for c in 0..<channels {
      for y in 0..<height {
        for x in 0..<width {
          let token = (y / 2) * gridWidth + x / 2
          latent[(c * height + y) * width + x] = packed[token * channels * 4 + c * 4 + (y % 2) * 2 + x % 2]
        }
      }
    }
    return latent
  }

  public func generate(to output: URL, progress: (any GenerationProgress)? = nil) throws -> GenerationSummary {
    let start = now()
    let channels = packedShape[2] / 4
    var noise = GaussianNoise(seed: common.seed)
    var packed = Self.pack(noise.next(count: packedShape[1] * packedShape[2]), channels: channels,
                           gridHeight: gridHeight, gridWidth: gridWidth)
    let sampler = try fixedShift.map { shift throws(GenerationError) in
      try FlowMatchEulerSampler(sigmas: (0..<common.steps).map {
        FlowMatchEulerSampler.wanShift(1 - Double($0) / Double(common.steps), shift: shift)
      } + [0])
    } ?? FlowMatchEulerSampler.flux(steps: common.steps, imageTokens: packedShape[1])
    var conditioning = try text.tensors(named: ["encoder_hidden_states", "pooled_projections"], for: denoiser, seed: common.seed)
    if denoiser.graph.inputs.contains(where: { $0.name == "guidance" }) {
      conditioning["guidance"] = try tensor([1], [guidance])
    }
    progress?.began("denoising: \(common.steps) flow-matching Euler steps, \(text.description)")
    let denoise = try timedSteps(common.steps, progress: progress) { index in
      var inputs = conditioning
      inputs["hidden_states"] = try tensor(packedShape, packed)
      // The MMDiT scales its timestep by 1000 itself: it takes σ.
      inputs["timestep"] = try tensor([1], [Float(sampler.sigmas[index])])
      packed = sampler.step(sample: packed, velocity: try denoiser.run(inputs), index: index)
    }
    progress?.began("decoding with the VAE")
    let vaeStart = now()
    let latent = Self.unpack(packed, channels: channels, gridHeight: gridHeight, gridWidth: gridWidth)
    let image = try decoder.decode(latent[...])
    let vae = now() - vaeStart
    try PNGWriter.write(image, to: output)
    return summarize(model: denoiser.title, sampler: "flow-euler", common: common, options: options, denoiser: denoiser,
                     decoder: decoder, setup: setupSeconds, denoise: denoise, vae: vae,
                     total: setupSeconds + (now() - start), images: 1, frames: 0, files: [output])
  }
}

// MARK: - Video DiT, text-to-video

/// Text-to-video with the Wan-style video DiT: flow-matching Euler over σ linear from 1 to 1/N,
/// each shifted as Wan does (σ' = shift·σ / (1 + (shift − 1)·σ)), model timestep σ·1000; every
/// latent frame decoded by the SD VAE decoder's architecture with the model's output channels
/// (latents passed unscaled), written as PNG frames plus a looping GIF preview.
public final class VideoPipeline {
  public let common: GenerationCommon
  public let text: TextConditioning
  public let shift: Double
  public let options: ExecutionOptions
  public let denoiser: ModelSession
  public let decoder: LatentDecoder
  public let setupSeconds: Double
  public static let previewFramesPerSecond = 8
  private let latentShape: [Int]

  public init(_ common: GenerationCommon, frames: Int?, text: TextConditioning, shift: Double = 5,
              options: ExecutionOptions) throws {
    let start = now()
    let (family, config) = try common.resolve(family: "video-dit")
    var overrides = common.overrides
    overrides["batch"] = "1"
    if let frames { overrides["frames"] = "\(frames)" }
    denoiser = try ModelSession(family: family.name, config: config, overrides: overrides,
                                weightsFolder: try common.weightsSubfolder("transformer"),
                                weightSeed: GenerationCommon.denoiserWeightSeed, options: options)
    latentShape = try denoiser.inputShape("latent").dims
    guard let output = denoiser.graph.outputs.first(where: { $0.name == "noise_pred" }),
          denoiser.graph[output.node].shape.dims == latentShape
    else {
      throw GenerationError.model("\(denoiser.title): the velocity must have the latent's shape \(latentShape) (set outChannels = inChannels)")
    }
    decoder = try LatentDecoder(config: common.vaeConfig, latentChannels: latentShape[1], latentHeight: latentShape[3],
                                latentWidth: latentShape[4], overrides: common.vaeOverrides,
                                weightsFolder: try common.weightsSubfolder("vae"), weightSeed: GenerationCommon.vaeWeightSeed,
                                scaling: .identity, options: options)
    self.common = common
    self.text = text
    self.shift = shift
    self.options = options
    setupSeconds = now() - start
  }

  /// Denoises, decodes every latent frame and writes `frame-000.png`, … and `preview.gif` into `folder`.
  public func generate(to folder: URL, progress: (any GenerationProgress)? = nil) throws -> GenerationSummary {
    let start = now()
    let sampler = try FlowMatchEulerSampler.wan(steps: common.steps, shift: shift)
    var noise = GaussianNoise(seed: common.seed)
    var latent = noise.next(count: latentShape.reduce(1, *))
    let conditioning = try text.tensors(named: ["text_embeddings"], for: denoiser, seed: common.seed)
    progress?.began("denoising: \(common.steps) flow-matching Euler steps (shift \(shift)), \(text.description)")
    let denoise = try timedSteps(common.steps, progress: progress) { index in
      var inputs = conditioning
      inputs["latent"] = try tensor(latentShape, latent)
      inputs["timestep"] = try tensor([1], [Float(sampler.sigmas[index] * 1000)])
      latent = sampler.step(sample: latent, velocity: try denoiser.run(inputs), index: index)
    }

    progress?.began("decoding \(latentShape[2]) latent frames with the VAE")
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    } catch {
      throw GenerationError.output("\(folder.path): cannot create the output folder (\(error.localizedDescription))")
    }
    let (channels, frameCount, plane) = (latentShape[1], latentShape[2], latentShape[3] * latentShape[4])
    var images: [RGBImage] = []
    var files: [URL] = []
    var vae = 0.0
    for frame in 0..<frameCount {
      // [C, F, H, W] → this frame's [C, H, W].
      var slice = [Float](repeating: 0, count: channels * plane)
      for c in 0..<channels {
        let from = (c * frameCount + frame) * plane
        slice.replaceSubrange((c * plane)..<((c + 1) * plane), with: latent[from..<(from + plane)])
      }
      let vaeStart = now()
      let image = try decoder.decode(slice[...])
      vae += now() - vaeStart
      let url = folder.appendingPathComponent(String(format: "frame-%03d.png", frame))
      try PNGWriter.write(image, to: url)
      images.append(image)
      files.append(url)
    }
    let preview = folder.appendingPathComponent("preview.gif")
    try AnimationWriter.writeGIF(images, framesPerSecond: Self.previewFramesPerSecond, to: preview)
    files.append(preview)
    return summarize(model: denoiser.title, sampler: "flow-euler", common: common, options: options, denoiser: denoiser,
                     decoder: decoder, setup: setupSeconds, denoise: denoise, vae: vae,
                     total: setupSeconds + (now() - start), images: 0, frames: frameCount, files: files)
  }
}
