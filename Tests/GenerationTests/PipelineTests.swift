import Codegen
import Foundation
import KilnTestSupport
import Models
import Runtime
import Testing
import Tracer
@testable import Generation

/// A module cache in a fresh temporary folder, shared by the pipeline tests: each tiny model is
/// compiled once per test run and the user's cache is left alone.
let pipelineModuleCache = Result { () throws -> ModuleCache in
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-generation-modules-\(UUID().uuidString)")
  return ModuleCache(directory: folder, compiler: try CCompiler.locate())
}

/// Tiny DiT, MMDiT and video DiT configs generating end to end, decoded by the tiny VAE.
@Suite(.serialized, .machineExclusive) struct PipelineTests {
  static func options(_ executor: ExecutionOptions.ExecutorKind = .compiled) throws -> ExecutionOptions {
    ExecutionOptions(executor: executor, threads: min(2, try Topology.current().cpuCount), cache: try pipelineModuleCache.get())
  }

  static func ditRequest(seed: UInt64 = 0, weights: URL? = nil) -> GenerationCommon {
    GenerationCommon(model: "dit-tiny", steps: 4, seed: seed, weights: weights, vaeConfig: "tiny")
  }

  static func generateDiT(_ common: GenerationCommon, executor: ExecutionOptions.ExecutorKind = .compiled,
                          sampler: DiTPipeline.Sampler = .ddim, into folder: URL, name: String) throws -> (URL, GenerationSummary) {
    let pipeline = try DiTPipeline(common, classLabel: 3, guidanceScale: 4, sampler: sampler, options: try options(executor))
    let url = folder.appendingPathComponent(name)
    return (url, try pipeline.generate(to: url))
  }

  @Test(arguments: [DiTPipeline.Sampler.ddim, .ddpm])
  func tinyDiTWritesAPNGOfTheDecodedSize(sampler: DiTPipeline.Sampler) throws {
    let folder = try temporaryFolder("dit")
    let (url, summary) = try Self.generateDiT(Self.ditRequest(), sampler: sampler, into: folder, name: "dit.png")
    let image = try DecodedPNG(url)
    // dit-tiny: 64×64 pixels → an 8×8 latent; the tiny VAE upsamples by 8.
    #expect((image.width, image.height) == (64, 64))
    #expect(Set(image.pixels).count > 16, "a decoded image, not a constant")
    #expect(summary.steps == 4 && summary.images == 1 && summary.files == [url.path])
    #expect(summary.weights.contains("seeded"))
    #expect(summary.denoiseSeconds > 0 && summary.gflops > 0)
  }

  @Test func oneSeedGivesIdenticalBytesAndAnotherSeedDoesNot() throws {
    let folder = try temporaryFolder("dit-seed")
    let (first, _) = try Self.generateDiT(Self.ditRequest(seed: 9), into: folder, name: "a.png")
    let (second, _) = try Self.generateDiT(Self.ditRequest(seed: 9), into: folder, name: "b.png")
    let (other, _) = try Self.generateDiT(Self.ditRequest(seed: 10), into: folder, name: "c.png")
    #expect(try Data(contentsOf: first) == Data(contentsOf: second))
    #expect(try Data(contentsOf: first) != Data(contentsOf: other))
  }

  /// Tolerance: decoded pixels differ by at most 2/255 anywhere and 0.5/255 on average.
  @Test func compiledAndNaiveExecutorsGiveTheSameImageWithinTwoLevels() throws {
    let folder = try temporaryFolder("dit-executors")
    let (compiled, _) = try Self.generateDiT(Self.ditRequest(), executor: .compiled, into: folder, name: "compiled.png")
    let (naive, _) = try Self.generateDiT(Self.ditRequest(), executor: .naive, into: folder, name: "naive.png")
    let a = try DecodedPNG(compiled).pixels
    let b = try DecodedPNG(naive).pixels
    let differences = zip(a, b).map { abs(Int($0) - Int($1)) }
    let mean = Double(differences.reduce(0, +)) / Double(differences.count)
    print("compiled vs naive, decoded pixels: max |Δ| \(differences.max() ?? 0)/255, mean \(mean)/255")
    #expect((differences.max() ?? 0) <= 2, "max difference \(differences.max() ?? 0)")
    #expect(mean <= 0.5, "mean difference \(mean)")
  }

  @Test func tinyMMDiTWritesAPNGOfTheConfiguredSize() throws {
    let folder = try temporaryFolder("mmdit")
    let common = GenerationCommon(model: "mmdit-tiny", steps: 3, seed: 1, vaeConfig: "tiny")
    let pipeline = try MMDiTPipeline(common, text: .seeded, guidance: 3.5, fixedShift: nil, options: try Self.options())
    let url = folder.appendingPathComponent("mmdit.png")
    let summary = try pipeline.generate(to: url)
    let image = try DecodedPNG(url)
    // mmdit-tiny is 64 high and 48 wide.
    #expect((image.width, image.height) == (48, 64))
    #expect(summary.sampler == "flow-euler")
  }

  @Test func mmditReadsTextEmbeddingsFromASafetensorsFile() throws {
    let folder = try temporaryFolder("mmdit-text")
    let config = ModelRegistry.family(named: "mmdit")?.settings(of: "tiny") ?? []
    func setting(_ key: String) -> Int { Int(config.first { $0.key == key }?.value ?? "") ?? 0 }
    let (tokens, textDim, pooledDim) = (setting("textTokens"), setting("textDim"), setting("pooledDim"))
    var noise = GaussianNoise(seed: 4)
    let file = folder.appendingPathComponent("text.safetensors")
    try writeSafetensors([
      ("encoder_hidden_states", try RuntimeTensor(shape: [1, tokens, textDim], floats: noise.next(count: tokens * textDim))),
      ("pooled_projections", try RuntimeTensor(shape: [1, pooledDim], floats: noise.next(count: pooledDim))),
    ], to: file)
    let common = GenerationCommon(model: "mmdit-tiny", steps: 2, seed: 1, vaeConfig: "tiny")
    let fromFile = try MMDiTPipeline(common, text: .file(file), guidance: 3.5, fixedShift: 3, options: try Self.options())
    _ = try fromFile.generate(to: folder.appendingPathComponent("file.png"))
    let seeded = try MMDiTPipeline(common, text: .seeded, guidance: 3.5, fixedShift: 3, options: try Self.options())
    _ = try seeded.generate(to: folder.appendingPathComponent("seeded.png"))
    #expect(try Data(contentsOf: folder.appendingPathComponent("file.png")) != Data(contentsOf: folder.appendingPathComponent("seeded.png")))

    try writeSafetensors([("encoder_hidden_states", try RuntimeTensor(shape: [1, 1], floats: [0]))], to: file)
    let wrong = try MMDiTPipeline(common, text: .file(file), guidance: 3.5, fixedShift: nil, options: try Self.options())
    #expect(throws: GenerationError.self) { try wrong.generate(to: folder.appendingPathComponent("wrong.png")) }
  }

  @Test func tinyVideoDiTWritesEveryLatentFrameAndAPreview() throws {
    let folder = try temporaryFolder("video")
    let common = GenerationCommon(model: "video-dit-tiny", steps: 3, seed: 2, vaeConfig: "tiny")
    // 9 frames → (9 − 1)/4 + 1 = 3 latent frames.
    let pipeline = try VideoPipeline(common, frames: 9, text: .seeded, options: try Self.options())
    let summary = try pipeline.generate(to: folder)
    #expect(summary.frames == 3)
    for frame in 0..<3 {
      let image = try DecodedPNG(folder.appendingPathComponent(String(format: "frame-%03d.png", frame)))
      // video-dit-tiny is 32 high and 48 wide.
      #expect((image.width, image.height) == (48, 32))
    }
    let preview = try Data(contentsOf: folder.appendingPathComponent("preview.gif"))
    #expect(preview.prefix(6) == Data("GIF89a".utf8))
    #expect(summary.files.count == 4)
  }

  @Test func diffusersPipelineFolderGeneratesThroughWeights() throws {
    let folder = try temporaryFolder("weights")
    let weights = try DiffusersPipelineFolder.write(into: folder)
    let (url, summary) = try Self.generateDiT(Self.ditRequest(weights: weights), into: folder, name: "dit.png")
    let decoded = try DecodedPNG(url)
    #expect((decoded.width, decoded.height) == (64, 64))
    #expect(summary.weights == weights.appendingPathComponent("transformer").path)
    #expect(summary.vaeWeights == weights.appendingPathComponent("vae").path)
    // The folder's weights, not the seeded ones.
    let (seeded, _) = try Self.generateDiT(Self.ditRequest(), into: folder, name: "seeded.png")
    #expect(try Data(contentsOf: url) != Data(contentsOf: seeded))

    try FileManager.default.removeItem(at: weights.appendingPathComponent("vae"))
    #expect(throws: GenerationError.self) { try Self.generateDiT(Self.ditRequest(weights: weights), into: folder, name: "x.png") }
  }

  @Test func classOutsideTheTableIsRefused() throws {
    #expect(throws: GenerationError.self) {
      try DiTPipeline(Self.ditRequest(), classLabel: 10, guidanceScale: 4, sampler: .ddim, options: try Self.options())
    }
  }
}

/// A tiny diffusers pipeline folder: `transformer/` (DiTTransformer2DModel) and `vae/`
/// (AutoencoderKL), each a config.json and a diffusion_pytorch_model.safetensors.
enum DiffusersPipelineFolder {
  static func write(into parent: URL) throws -> URL {
    let root = parent.appendingPathComponent("pipeline")
    let transformerConfig = """
      {"_class_name": "DiTTransformer2DModel", "num_attention_heads": 2, "attention_head_dim": 16, "in_channels": 4,
       "out_channels": 8, "num_layers": 2, "patch_size": 2, "sample_size": 8, "num_embeds_ada_norm": 10,
       "norm_type": "ada_norm_zero", "activation_fn": "gelu-approximate"}
      """
    let vaeConfig = """
      {"_class_name": "AutoencoderKL", "block_out_channels": [16, 16, 32, 32], "layers_per_block": 2, "norm_num_groups": 8,
       "latent_channels": 4, "out_channels": 3, "act_fn": "silu", "scaling_factor": 0.18215}
      """
    let dit = try ModelRegistry.resolve("dit-tiny").family.trace(config: "tiny", overrides: ["batch": "2"])
    let vae = try ModelRegistry.resolve("sd-vae-decoder-tiny").family.trace(
      config: "tiny", overrides: ["latentHeight": "8", "latentWidth": "8"])
    for (name, config, graph, seed) in [("transformer", transformerConfig, dit, UInt64(41)), ("vae", vaeConfig, vae, 42)] {
      let folder = root.appendingPathComponent(name)
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      try Data(config.utf8).write(to: folder.appendingPathComponent("config.json"))
      let tensors = try SeededWeights.initialize(for: graph, seed: seed).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
      try writeSafetensors(tensors, to: folder.appendingPathComponent("diffusion_pytorch_model.safetensors"))
    }
    return root
  }
}
