import KilnTestSupport
import Testing
import Tracer
@testable import Models

@Suite struct VideoDiTTests {
  static let family = ModelRegistry.family(named: "video-dit")

  func config(_ name: String) throws -> VideoDiT.Config {
    try #require(VideoDiT.configs.first { $0.name == name }?.config)
  }

  func trace(_ name: String, _ overrides: [String: String] = [:]) throws -> Graph {
    try #require(Self.family).trace(config: name, overrides: overrides)
  }

  @Test func familyIsRegisteredWithSmallAsDefault() throws {
    let family = try #require(Self.family)
    #expect(family.defaultConfig == "small")
    #expect(Set(family.configNames) == ["small", "wan-1.3b", "tiny"])
    #expect(try ModelRegistry.resolve("video-dit-wan-1.3b").config == "wan-1.3b")
  }

  @Test func wan13BParameterCountEqualsTheLayerFormula() throws {
    let c = try config("wan-1.3b")
    let (d, ffn, channels, text, patch) = (c.hidden, c.ffn, c.inChannels, c.textDim, 1 * 2 * 2)
    func linear(_ input: Int, _ output: Int) -> Int { input * output + output }
    let patchEmbedding = linear(channels * patch, d)
    let timeEmbedder = linear(256, d) + linear(d, d)
    let timeProjection = linear(d, 6 * d)
    let textEmbedder = linear(text, d) + linear(d, d)
    let attention = 4 * linear(d, d) + 2 * d  // q, k, v, out + RMS norms of q and k
    let block = 2 * attention + 2 * d + linear(d, ffn) + linear(ffn, d) + 6 * d  // + norm2, ffn, table
    let head = 2 * d + linear(d, patch * c.outChannels)
    let formula = patchEmbedding + timeEmbedder + timeProjection + textEmbedder + c.layers * block + head

    let counted = GraphStatistics(try trace("wan-1.3b")).params
    #expect(counted == formula)
    #expect(counted == 1_418_996_800)  // Wan 2.1 T2V 1.3B: "1.3B", about 1.42 B parameters
  }

  @Test func parametersCarryDiffusersNamesAndShapes() throws {
    let graph = try trace("wan-1.3b")
    let shapes = Dictionary(uniqueKeysWithValues: graph.params.map { ($0.name, graph[$0.node].shape) })
    let expected: [String: Shape] = [
      "patch_embedding.weight": [1536, 16, 1, 2, 2],
      "patch_embedding.bias": [1536],
      "condition_embedder.time_embedder.linear_1.weight": [1536, 256],
      "condition_embedder.time_embedder.linear_2.weight": [1536, 1536],
      "condition_embedder.time_proj.weight": [9216, 1536],
      "condition_embedder.text_embedder.linear_1.weight": [1536, 4096],
      "condition_embedder.text_embedder.linear_2.bias": [1536],
      "blocks.0.scale_shift_table": [1, 6, 1536],
      "blocks.0.attn1.to_q.weight": [1536, 1536],
      "blocks.0.attn1.norm_q.weight": [1536],
      "blocks.0.attn1.to_out.0.bias": [1536],
      "blocks.0.norm2.weight": [1536],
      "blocks.0.norm2.bias": [1536],
      "blocks.0.attn2.to_k.weight": [1536, 1536],
      "blocks.0.attn2.norm_k.weight": [1536],
      "blocks.0.ffn.net.0.proj.weight": [8960, 1536],
      "blocks.29.ffn.net.2.weight": [1536, 8960],
      "scale_shift_table": [1, 2, 1536],
      "proj_out.weight": [64, 1536],
    ]
    for (name, shape) in expected {
      #expect(shapes[name] == shape, "\(name)")
    }
    #expect(shapes.count == graph.params.count, "parameter names are unique")
  }

  @Test(arguments: ["small", "wan-1.3b", "tiny"])
  func everyConfigTracesAndVerifies(name: String) throws {
    let graph = try trace(name)
    try graph.verify()
    #expect(graph.outputs.map(\.name) == ["noise_pred"])
    #expect(graph.inputs.map(\.name) == ["latent", "timestep", "text_embeddings"])
  }

  @Test(arguments: ["small", "wan-1.3b", "tiny"])
  func outputShapeEqualsLatentShape(name: String) throws {
    let graph = try trace(name)
    let latent = try #require(graph.inputs.first { $0.name == "latent" })
    #expect(graph[graph.outputs[0].node].shape == graph[latent.node].shape)
  }

  @Test func wan13BLatentIs21By60By104For81FramesAt480By832() throws {
    let graph = try trace("wan-1.3b")
    let latent = try #require(graph.inputs.first { $0.name == "latent" })
    #expect(graph[latent.node].shape == [1, 16, 21, 60, 104])
  }

  @Test(arguments: [1, 3])
  func eachBlockHasOneSelfAndOneCrossAttention(layers: Int) throws {
    let c = try config("tiny")
    let graph = try trace("tiny", ["layers": "\(layers)"])
    let attentions = attentionOutputs(in: graph)
    #expect(attentions.count == 2 * layers)
    // Probabilities [B, heads, queries, keys]: all tokens attend to all tokens, then to the text.
    let probabilityShapes = attentions.map { graph[graph[$0].operands[0]].shape }
    let selfShape: Shape = [c.batch, c.heads, c.tokens, c.tokens]
    let crossShape: Shape = [c.batch, c.heads, c.tokens, c.textTokens]
    #expect(probabilityShapes.filter { $0 == selfShape }.count == layers)
    #expect(probabilityShapes.filter { $0 == crossShape }.count == layers)
  }

  @Test func rotarySplitOfHeadDim128Is44And42And42() {
    let split = VideoDiT.rotarySplit(headDim: 128)
    #expect([split.frames, split.rows, split.columns] == [44, 42, 42])
    let tinySplit = VideoDiT.rotarySplit(headDim: 12)
    #expect(tinySplit.frames + tinySplit.rows + tinySplit.columns == 12)
  }

  @Test(arguments: [
    ["heads": "5"], ["frames": "6"], ["height": "36"], ["patchWidth": "5"], ["hidden": "8", "heads": "2"], ["layers": "0"],
  ])
  func impossibleSizesAreRefused(overrides: [String: String]) throws {
    #expect(throws: ModelError.self) { try trace("tiny", overrides) }
  }
}
