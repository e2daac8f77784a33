import Foundation
import KilnTestSupport
import Models
import Runtime
import Testing
import Tracer

/// Folders laid out as diffusers' `save_pretrained` writes them, made by the tests: config.json,
/// then the weights with what diffusers stores beyond Kiln's params.
@Suite struct DiffusersFolderTests {
  /// The tiny DiT as diffusers' `DiTTransformer2DModel` would describe it.
  static func ditConfig(layers: Int = 2) -> String {
    """
    {
      "_class_name": "DiTTransformer2DModel",
      "_diffusers_version": "0.30.0",
      "activation_fn": "gelu-approximate",
      "attention_bias": true,
      "attention_head_dim": 16,
      "dropout": 0.0,
      "in_channels": 4,
      "norm_elementwise_affine": false,
      "norm_eps": 1e-05,
      "norm_num_groups": 32,
      "norm_type": "ada_norm_zero",
      "num_attention_heads": 2,
      "num_embeds_ada_norm": 10,
      "num_layers": \(layers),
      "out_channels": 8,
      "patch_size": 2,
      "sample_size": 8,
      "upcast_attention": false
    }
    """
  }

  /// The tiny VAE as diffusers' `AutoencoderKL` would describe it.
  static func vaeConfig(widths: [Int] = [16, 16, 32, 32]) -> String {
    """
    {
      "_class_name": "AutoencoderKL",
      "_diffusers_version": "0.30.0",
      "act_fn": "silu",
      "block_out_channels": \(widths),
      "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
      "in_channels": 3,
      "latent_channels": 4,
      "layers_per_block": 2,
      "norm_num_groups": 8,
      "out_channels": 3,
      "sample_size": 32,
      "scaling_factor": 0.18215,
      "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
    }
    """
  }

  /// A diffusers DiT folder: Kiln's params plus every block's own copy of the embedders and the
  /// `pos_embed.pos_embed` buffer, as diffusers saves them.
  static func writeDiTFolder(_ folder: ScratchFolder, config: String, seed: UInt64) throws -> (graph: Graph, weights: [String: RuntimeTensor]) {
    let graph = try DiT.trace(try #require(DiT.configs.first { $0.name == "tiny" }).config)
    let weights = try SeededWeights.initialize(for: graph, seed: seed)
    var tensors = weights.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    let embedderPrefix = "transformer_blocks.0.norm1.emb."
    for (name, tensor) in weights where name.hasPrefix(embedderPrefix) {
      tensors.append((name.replacingOccurrences(of: "transformer_blocks.0.", with: "transformer_blocks.1."), tensor))
    }
    tensors.append(("pos_embed.pos_embed", try RuntimeTensor(shape: [1, 16, 32], floats: [Float](repeating: 0.5, count: 16 * 32))))
    try Data(config.utf8).write(to: folder.file(DiffusersFolder.configName))
    try writeSafetensors(tensors, to: folder.file(DiffusersFolder.weightsName))
    return (graph, weights)
  }

  /// A diffusers AutoencoderKL folder: the tiny decoder's params (optionally renamed) plus encoder
  /// and `quant_conv` tensors.
  static func writeVAEFolder(_ folder: ScratchFolder, config: String, seed: UInt64,
                             rename: (String) -> String = { $0 }) throws -> [String: RuntimeTensor] {
    let graph = try VAEDecoder.trace(try #require(VAEDecoder.configs.first { $0.name == "tiny" }).config)
    let weights = try SeededWeights.initialize(for: graph, seed: seed)
    var tensors = weights.sorted { $0.key < $1.key }.map { (rename($0.key), $0.value) }
    func filled(_ shape: Shape) throws -> RuntimeTensor {
      try RuntimeTensor(shape: shape, floats: [Float](repeating: 0.25, count: shape.elementCount))
    }
    tensors += [
      ("encoder.conv_in.weight", try filled([16, 3, 3, 3])), ("encoder.conv_in.bias", try filled([16])),
      ("encoder.down_blocks.0.resnets.0.norm1.weight", try filled([16])),
      ("encoder.conv_out.weight", try filled([8, 32, 3, 3])),
      ("quant_conv.weight", try filled([8, 8, 1, 1])), ("quant_conv.bias", try filled([8])),
    ]
    try Data(config.utf8).write(to: folder.file(DiffusersFolder.configName))
    try writeSafetensors(tensors, to: folder.file(DiffusersFolder.weightsName))
    return weights
  }

  /// Reads the folder the way `kiln run --weights` does: config.json through the model's
  /// checkpoint naming, the graph traced at those settings, then the loader.
  static func load<Model: DiffusersCheckpoint>(_ model: Model.Type, folder: ScratchFolder) throws -> (graph: Graph, loaded: LoadedWeights) {
    let family = try #require(ModelRegistry.family(named: model.family))
    let settings = try model.settings(fromDiffusersConfig: try DiffusersFolder.config(at: folder.url))
    let graph = try family.trace(config: "tiny", overrides: settings)
    let aliases = model.checkpointAliases(for: graph.params.map(\.name))
    return (graph, try WeightLoader.load(for: graph, from: folder.url, aliases: aliases))
  }

  static func runsToFiniteOutputs(_ graph: Graph, _ weights: [String: RuntimeTensor], seed: UInt64) throws -> Bool {
    let params = try weights.mapValues { try HostTensor(shape: $0.shape, values: $0.floats.map(Double.init)) }
    let outputs = try ReferenceInterpreter.evaluate(graph, inputs: randomFeeds(for: graph, seed: seed).inputs, params: params)
    return !outputs.isEmpty && outputs.values.allSatisfy { $0.values.allSatisfy { $0.isFinite } }
  }

  // MARK: - DiT

  @Test func ditConfigMapsOntoTheTinySettings() throws {
    let settings = try DiT.settings(fromDiffusersConfig: Data(Self.ditConfig().utf8))
    #expect(settings == ["heads": "2", "hidden": "32", "depth": "2", "patch": "2", "resolution": "64",
                         "latentChannels": "4", "classes": "10", "learnSigma": "true"])
    let family = try #require(ModelRegistry.family(named: "dit"))
    #expect(try family.trace(config: "tiny", overrides: settings) == family.trace(config: "tiny"))
    // A 1 is an integer, not a JSON boolean, whatever Foundation boxes it in.
    let oneLayer = try DiT.settings(fromDiffusersConfig: Data(Self.ditConfig(layers: 1).utf8))
    #expect(oneLayer["depth"] == "1")
  }

  @Test func ditFolderWithPerBlockEmbeddersLoadsAndRuns() throws {
    let folder = try ScratchFolder()
    let written = try Self.writeDiTFolder(folder, config: Self.ditConfig(), seed: 11)
    let (graph, loaded) = try Self.load(DiT.self, folder: folder)
    #expect(loaded.tensors == written.weights)
    let copies = written.weights.keys.filter { $0.hasPrefix("transformer_blocks.0.norm1.emb.") }.count
    #expect(copies == 5)  // two timestep linears (weight, bias) and the class table
    #expect(loaded.ignored.count == copies + 1)
    #expect(loaded.ignoredSummary == "ignored \(copies + 1) tensors (transformer_blocks.*.norm1.*: \(copies), pos_embed.*: 1)")
    #expect(try Self.runsToFiniteOutputs(graph, loaded.tensors, seed: 12))
  }

  @Test func ditFolderWhoseConfigHasMoreLayersThanItsTensorsIsRefusedNamingAMissingTensor() throws {
    let folder = try ScratchFolder()
    _ = try Self.writeDiTFolder(folder, config: Self.ditConfig(layers: 3), seed: 13)
    do {
      _ = try Self.load(DiT.self, folder: folder)
      Issue.record("a 3-layer config over 2 blocks of tensors was accepted")
    } catch let error as RuntimeError {
      let message = error.description
      #expect(message.hasPrefix("weights: diffusion_pytorch_model.safetensors has no tensor 'transformer_blocks.2."), "\(message)")
    }
  }

  @Test func ditConfigWithAnUnusableFieldIsRefusedNamingIt() {
    func message(_ edit: (String) -> String) -> String? {
      do {
        _ = try DiT.settings(fromDiffusersConfig: Data(edit(Self.ditConfig()).utf8))
        return nil
      } catch {
        return "\(error)"
      }
    }
    #expect(message { $0.replacingOccurrences(of: "\"out_channels\": 8", with: "\"out_channels\": 5") }
      == "config.json: 'out_channels' is 5; DiT needs in_channels (4) or twice that (learned σ)")
    #expect(message { $0.replacingOccurrences(of: "\"num_layers\": 2", with: "\"num_layers\": true") }
      == "config.json: 'num_layers' must be a positive integer")
    #expect(message { $0.replacingOccurrences(of: "\"patch_size\": 2", with: "\"patch_size\": 2.5") }
      == "config.json: 'patch_size' must be a positive integer")
    #expect(message { $0.replacingOccurrences(of: "\"num_attention_heads\": 2,", with: "") }
      == "config.json: 'num_attention_heads' is missing")
    #expect(message { $0.replacingOccurrences(of: "ada_norm_zero", with: "ada_norm_single") }
      == "config.json: 'norm_type' is 'ada_norm_single'; Kiln's model implements 'ada_norm_zero'")
    #expect(message { _ in "[]" } == "config.json: '(document)' is not a JSON object")
  }

  // MARK: - VAE decoder

  @Test func vaeFolderWithEncoderTensorsLoadsIgnoringThemAndRuns() throws {
    let folder = try ScratchFolder()
    let written = try Self.writeVAEFolder(folder, config: Self.vaeConfig(), seed: 21)
    let (graph, loaded) = try Self.load(VAEDecoder.self, folder: folder)
    #expect(loaded.tensors == written)
    #expect(loaded.ignoredSummary == "ignored 6 tensors (encoder.*: 4, quant_conv.*: 2)")
    #expect(try Self.runsToFiniteOutputs(graph, loaded.tensors, seed: 22))
  }

  @Test func vaeFolderWithLegacyAttentionNamesLoadsThroughTheAliases() throws {
    let folder = try ScratchFolder()
    let legacy = [".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."]
    let written = try Self.writeVAEFolder(folder, config: Self.vaeConfig(), seed: 23) { name in
      legacy.reduce(name) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
    }
    let (_, loaded) = try Self.load(VAEDecoder.self, folder: folder)
    #expect(loaded.tensors == written)
    #expect(loaded.tensors["decoder.mid_block.attentions.0.to_out.0.weight"] != nil)
  }

  @Test func vaeFolderWhoseConfigDisagreesWithItsTensorsIsRefusedNamingTheTensor() throws {
    let folder = try ScratchFolder()
    _ = try Self.writeVAEFolder(folder, config: Self.vaeConfig(widths: [16, 16, 32, 64]), seed: 24)
    do {
      _ = try Self.load(VAEDecoder.self, folder: folder)
      Issue.record("a config with a 64-wide last block over 32-wide tensors was accepted")
    } catch let error as RuntimeError {
      #expect(error.description
        == "weights: tensor 'decoder.conv_in.weight' in diffusion_pytorch_model.safetensors has shape [32, 4, 3, 3], the model needs [64, 4, 3, 3]")
    }
  }

  @Test func vaeConfigMapsOntoTheTinySettings() throws {
    let settings = try VAEDecoder.settings(fromDiffusersConfig: Data(Self.vaeConfig().utf8))
    #expect(settings == ["blockOutChannels": "16,16,32,32", "layersPerBlock": "2", "groups": "8",
                         "latentChannels": "4", "outChannels": "3"])
    func adding(_ member: String) -> Data {
      Data(Self.vaeConfig().replacingOccurrences(of: "\"act_fn\": \"silu\",", with: "\"act_fn\": \"silu\", \(member),").utf8)
    }
    #expect(try VAEDecoder.settings(fromDiffusersConfig: adding(#""use_post_quant_conv": true"#)) == settings)
    #expect(throws: CheckpointError.invalidConfig(field: "use_post_quant_conv", message: "is false; Kiln's decoder has post_quant_conv")) {
      try VAEDecoder.settings(fromDiffusersConfig: adding(#""use_post_quant_conv": false"#))
    }
    #expect(throws: CheckpointError.invalidConfig(field: "use_post_quant_conv", message: "must be true or false")) {
      try VAEDecoder.settings(fromDiffusersConfig: adding(#""use_post_quant_conv": 0"#))
    }
  }
}

extension DiffusersFolderTests {
  /// `kiln run dit --weights FOLDER`: the folder's config sets the sizes, its tensors load (the
  /// per-block embedder copies ignored), and the three executors agree with the reference.
  @Test func ditFolderRunsThroughKilnRunOnEveryExecutor() throws {
    let folder = try ScratchFolder()
    _ = try Self.writeDiTFolder(folder, config: Self.ditConfig(), seed: 21)
    var environment = ProcessInfo.processInfo.environment
    environment["KILN_CACHE_DIR"] = folder.url.appendingPathComponent("cache").path
    let result = try BuiltExecutable.run(
      "kiln", ["run", "dit", "--weights", folder.url.path, "--executor", "all", "--check", "--json", "--repeat", "1"],
      environment: environment)
    #expect(result.status == 0, "\(result.stderr)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    #expect((report["weights"] as? String)?.contains(folder.url.lastPathComponent) == true, "\(report["weights"] ?? "")")
    let errors = try #require(report["relError"] as? [String: Double])
    #expect(errors.count == 6)
    for (pair, error) in errors { #expect(error <= 1e-4, "\(pair): \(error)") }
  }
}
