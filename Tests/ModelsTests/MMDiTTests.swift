import KilnTestSupport
import Testing
import Tracer
@testable import Models

@Suite struct MMDiTTests {
  static let family = ModelRegistry.family(named: "mmdit")

  func config(_ name: String) throws -> MMDiT.Config {
    try #require(MMDiT.configs.first { $0.name == name }?.config)
  }

  func trace(_ name: String, _ overrides: [String: String] = [:]) throws -> Graph {
    try #require(Self.family).trace(config: name, overrides: overrides)
  }

  @Test func familyIsRegisteredWithSmallAsDefault() throws {
    let family = try #require(Self.family)
    #expect(family.defaultConfig == "small")
    #expect(Set(family.configNames) == ["small", "flux1", "tiny"])
    #expect(try ModelRegistry.resolve("mmdit-flux1").config == "flux1")
  }

  @Test func flux1ParameterCountIsFluxDevs() throws {
    // FLUX.1-dev (with the guidance embedder): 11,901,408,320 parameters.
    #expect(GraphStatistics(try trace("flux1")).params == 11_901_408_320)
  }

  @Test func withoutGuidanceTheGuidanceEmbedderIsAllThatGoes() throws {
    let d = try config("flux1").hidden
    let guidanceEmbedder = (256 * d + d) + (d * d + d)
    let graph = try trace("flux1", ["guidance": "false"])
    #expect(GraphStatistics(graph).params == 11_901_408_320 - guidanceEmbedder)
    #expect(!graph.inputs.contains { $0.name == "guidance" })
    #expect(!graph.params.contains { $0.name.hasPrefix("time_text_embed.guidance_embedder") })
  }

  @Test func parametersCarryDiffusersNamesAndShapes() throws {
    let graph = try trace("flux1")
    let shapes = Dictionary(uniqueKeysWithValues: graph.params.map { ($0.name, graph[$0.node].shape) })
    let expected: [String: Shape] = [
      "x_embedder.weight": [3072, 64],
      "context_embedder.weight": [3072, 4096],
      "time_text_embed.timestep_embedder.linear_1.weight": [3072, 256],
      "time_text_embed.guidance_embedder.linear_2.weight": [3072, 3072],
      "time_text_embed.text_embedder.linear_1.weight": [3072, 768],
      "transformer_blocks.0.norm1.linear.weight": [18432, 3072],
      "transformer_blocks.0.norm1_context.linear.bias": [18432],
      "transformer_blocks.0.attn.to_q.weight": [3072, 3072],
      "transformer_blocks.0.attn.add_v_proj.weight": [3072, 3072],
      "transformer_blocks.0.attn.norm_q.weight": [128],
      "transformer_blocks.0.attn.norm_added_k.weight": [128],
      "transformer_blocks.0.attn.to_out.0.weight": [3072, 3072],
      "transformer_blocks.0.attn.to_add_out.bias": [3072],
      "transformer_blocks.18.ff.net.0.proj.weight": [12288, 3072],
      "transformer_blocks.18.ff_context.net.2.weight": [3072, 12288],
      "single_transformer_blocks.0.norm.linear.weight": [9216, 3072],
      "single_transformer_blocks.0.proj_mlp.weight": [12288, 3072],
      "single_transformer_blocks.0.attn.norm_k.weight": [128],
      "single_transformer_blocks.37.proj_out.weight": [3072, 15360],
      "norm_out.linear.weight": [6144, 3072],
      "proj_out.weight": [64, 3072],
    ]
    for (name, shape) in expected {
      #expect(shapes[name] == shape, "\(name)")
    }
    #expect(shapes.count == graph.params.count, "parameter names are unique")
    #expect(!shapes.keys.contains { $0.hasPrefix("single_transformer_blocks.0.attn.to_out") })
  }

  @Test(arguments: ["small", "flux1", "tiny"])
  func everyConfigTracesAndVerifies(name: String) throws {
    let graph = try trace(name)
    try graph.verify()
    #expect(graph.outputs.map(\.name) == ["noise_pred"])
    #expect(graph.inputs.map(\.name)
            == ["hidden_states", "encoder_hidden_states", "pooled_projections", "timestep", "guidance"])
  }

  @Test(arguments: ["small", "flux1", "tiny"])
  func outputShapeEqualsPackedLatentShape(name: String) throws {
    let c = try config(name)
    let graph = try trace(name)
    #expect(graph[graph.outputs[0].node].shape == [c.batch, c.imageTokens, c.packedChannels])
  }

  @Test func flux1At1024PixelsHas4096ImageTokens() throws {
    let c = try config("flux1")
    #expect(c.imageTokens == 4096)
    #expect(c.hidden == 3072)
  }

  @Test(arguments: [(2, 2), (1, 0), (0, 3), (3, 1)])
  func jointAttentionCountEqualsBlockCount(double: Int, single: Int) throws {
    let c = try config("tiny")
    let graph = try trace("tiny", ["doubleBlocks": "\(double)", "singleBlocks": "\(single)"])
    let attentions = attentionOutputs(in: graph)
    #expect(attentions.count == double + single)
    // Every attention is joint: all text and image tokens attend to all of them.
    let joint = c.textTokens + c.imageTokens
    for id in attentions {
      #expect(graph[graph[id].operands[0]].shape == [c.batch, c.heads, joint, joint])
    }
  }

  @Test func ropeAxesOfHeadDim128AreFlux16And56And56() {
    #expect(MMDiT.ropeAxes(headDim: 128) == [16, 56, 56])
    #expect(MMDiT.ropeAxes(headDim: 32).reduce(0, +) == 32)
  }

  @Test(arguments: [
    ["height": "72"], ["width": "40"], ["headDim": "48"], ["doubleBlocks": "0", "singleBlocks": "0"],
    ["doubleBlocks": "-1"], ["textTokens": "0"],
  ])
  func impossibleSizesAreRefused(overrides: [String: String]) throws {
    #expect(throws: ModelError.self) { try trace("tiny", overrides) }
  }
}
