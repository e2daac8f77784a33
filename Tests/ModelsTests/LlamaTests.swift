import KilnTestSupport
import Testing
import Tracer
@testable import Models

@Suite struct LlamaTests {
  let family = ModelRegistry.family(named: "llama")

  struct Shape8B {
    static let (vocab, hidden, layers, heads, kvHeads, headDim, intermediate) = (128_256, 4096, 32, 32, 8, 128, 14_336)
  }

  /// Weights of one token's pass through the projections: what each new token multiplies by.
  static let projectionWeightsPerLayer8B = Shape8B.hidden * Shape8B.heads * Shape8B.headDim       // q_proj
    + 2 * Shape8B.hidden * Shape8B.kvHeads * Shape8B.headDim                                     // k_proj, v_proj
    + Shape8B.heads * Shape8B.headDim * Shape8B.hidden                                           // o_proj
    + 3 * Shape8B.hidden * Shape8B.intermediate                                                  // gate, up, down

  @Test func llama3_8BParameterCountIs8_03B() throws {
    let formula = 2 * Shape8B.vocab * Shape8B.hidden                                  // embed_tokens, lm_head
      + Shape8B.layers * (Self.projectionWeightsPerLayer8B + 2 * Shape8B.hidden)       // + two RMSNorms
      + Shape8B.hidden                                                                 // model.norm
    #expect(formula == 8_030_261_248)
    for config in ["8b-decode", "8b-prefill"] {
      let graph = try #require(family).trace(config: config)
      #expect(GraphStatistics(graph).params == 8_030_261_248, "\(config)")
    }
  }

  @Test func decodeMACsAreProjectionWeightsPlusAttentionOverTheCache() throws {
    let graph = try #require(family).trace(config: "8b-decode")
    let keys = 1024 + 1
    // One token: every projection weight once, lm_head once, and per head q·kᵀ and p·v over L + 1 keys.
    let formula = Shape8B.layers * (Self.projectionWeightsPerLayer8B + 2 * Shape8B.heads * keys * Shape8B.headDim)
      + Shape8B.hidden * Shape8B.vocab
    #expect(GraphStatistics(graph).macs == formula)
    // The embedding is a lookup, not a product: decode MACs ≈ parameters − embed_tokens (+3.6% attention).
    let weightsTouched = 8_030_261_248 - Shape8B.vocab * Shape8B.hidden
    #expect(abs(Double(formula) / Double(weightsTouched) - 1) < 0.05)
  }

  @Test func prefillMACsAreTokensTimesWeightsPlusSquareAttention() throws {
    let graph = try #require(family).trace(config: "8b-prefill")
    let tokens = 512
    let formula = tokens * (Shape8B.layers * Self.projectionWeightsPerLayer8B + Shape8B.hidden * Shape8B.vocab)
      + Shape8B.layers * 2 * Shape8B.heads * tokens * tokens * Shape8B.headDim
    #expect(GraphStatistics(graph).macs == formula)
  }

  @Test func smallConfigIsAbout100MParameters() throws {
    let graph = try #require(family).trace(config: "small-decode")
    let parameters = GraphStatistics(graph).params
    #expect(parameters > 90_000_000 && parameters < 110_000_000, "\(parameters)")
  }

  @Test func everyConfigTracesVerifiesAndNamesEveryNode() throws {
    let family = try #require(family)
    #expect(family.defaultConfig == "small-decode")
    #expect(Set(family.configNames) == ["8b-prefill", "8b-decode", "small-prefill", "small-decode", "tiny", "tiny-decode"])
    for config in family.configNames {
      let graph = try family.trace(config: config)
      try graph.verify()
      #expect(GraphCounts.unscopedNodes(of: graph) == [], "\(config)")
      #expect(Set(graph.params.map(\.name)).count == graph.params.count, "\(config): a parameter name is declared twice")
      // The causal mask and rotary tables are computed in-graph, never stored.
      #expect(!graph.nodes.contains { if case .constant(.dense) = $0.op { true } else { false } }, "\(config)")
    }
  }

  @Test func paramNamesAndShapesMatchTransformersLayout() throws {
    let graph = try #require(family).trace(config: "tiny")
    let traced = Dictionary(graph.params.map { ($0.name, graph[$0.node].shape.dims) }, uniquingKeysWith: { first, _ in first })
    let (vocab, hidden, heads, kvHeads, headDim, intermediate) = (61, 32, 4, 2, 8, 88)
    var expected: [String: [Int]] = [
      "model.embed_tokens.weight": [vocab, hidden], "model.norm.weight": [hidden], "lm_head.weight": [vocab, hidden],
    ]
    for layer in 0..<2 {
      let prefix = "model.layers.\(layer)."
      expected[prefix + "input_layernorm.weight"] = [hidden]
      expected[prefix + "post_attention_layernorm.weight"] = [hidden]
      expected[prefix + "self_attn.q_proj.weight"] = [heads * headDim, hidden]
      expected[prefix + "self_attn.k_proj.weight"] = [kvHeads * headDim, hidden]
      expected[prefix + "self_attn.v_proj.weight"] = [kvHeads * headDim, hidden]
      expected[prefix + "self_attn.o_proj.weight"] = [hidden, heads * headDim]
      expected[prefix + "mlp.gate_proj.weight"] = [intermediate, hidden]
      expected[prefix + "mlp.up_proj.weight"] = [intermediate, hidden]
      expected[prefix + "mlp.down_proj.weight"] = [hidden, intermediate]
    }
    #expect(traced == expected)
  }

  @Test func prefillTakesTokenIDsAndReturnsLogitsForEveryToken() throws {
    let graph = try #require(family).trace(config: "tiny")
    #expect(graph.inputs.map(\.name) == ["input_ids"])
    #expect(graph[graph.inputs[0].node].dtype == .i32)
    #expect(graph[graph.inputs[0].node].shape == [2, 7])
    #expect(graph.outputs.map(\.name) == ["logits"])
    #expect(graph[graph.outputs[0].node].shape == [2, 7, 61])

    let large = try #require(family).trace(config: "8b-prefill")
    #expect(large[large.outputs[0].node].shape == [1, 512, 128_256])
  }

  @Test func decodeReadsTheCacheAndReturnsTheNewKeysAndValues() throws {
    let graph = try #require(family).trace(config: "tiny-decode")
    let inputs = Dictionary(uniqueKeysWithValues: graph.inputs.map { ($0.name, graph[$0.node].shape) })
    #expect(inputs["input_ids"] == [2, 1])
    let outputs = Dictionary(uniqueKeysWithValues: graph.outputs.map { ($0.name, graph[$0.node].shape) })
    #expect(outputs["logits"] == [2, 1, 61])
    for layer in 0..<2 {
      #expect(inputs["past_key.\(layer)"] == [2, 2, 5, 8])
      #expect(inputs["past_value.\(layer)"] == [2, 2, 5, 8])
      #expect(outputs["present_key.\(layer)"] == [2, 2, 1, 8])
      #expect(outputs["present_value.\(layer)"] == [2, 2, 1, 8])
    }
    #expect(inputs.count == 5 && outputs.count == 5)

    let large = try #require(family).trace(config: "8b-decode")
    #expect(large.inputs.first { $0.name == "past_key.31" }.map { large[$0.node].shape } == [1, 8, 1024, 128])
  }

  @Test func decodeRotatesAtPositionsAfterTheCache() throws {
    let graph = try #require(family).trace(config: "tiny-decode", overrides: ["cacheLength": "9"])
    // The one new token sits at position 9: the rotary positions start there.
    let positionTables = graph.nodes.filter { node in
      if case .constant(.arange(start: 9, step: 1)) = node.op { return node.shape == [1] }
      return false
    }
    #expect(positionTables.count == 1)
    #expect(positionTables.allSatisfy { $0.scope == "model.rotary_emb" })
  }

  @Test func decodeOfSeveralTokensMasksAfterTheCacheOffset() throws {
    let graph = try #require(family).trace(config: "tiny-decode", overrides: ["sequence": "3"])
    try graph.verify()
    // Keys 0..<8 (cache 5 + 3 new) against queries at positions 5, 6, 7.
    #expect(graph.nodes.contains { if case .constant(.arange(start: 0, step: 1)) = $0.op { $0.shape == [8] } else { false } })
    #expect(graph.nodes.contains { if case .constant(.arange(start: 5, step: 1)) = $0.op { $0.shape == [3] } else { false } })
    #expect(graph.outputs.first { $0.name == "present_key.1" }.map { graph[$0.node].shape } == [2, 2, 3, 8])
  }

  @Test func groupedQueryAttentionWorksForEveryHeadGrouping() throws {
    let family = try #require(family)
    for kvHeads in ["1", "2", "4"] {
      for config in ["tiny", "tiny-decode"] {
        let graph = try family.trace(config: config, overrides: ["kvHeads": kvHeads])
        try graph.verify()
        #expect(graph.params.first { $0.name == "model.layers.0.self_attn.k_proj.weight" }.map { graph[$0.node].shape }
                == [Int(kvHeads)! * 8, 32])
      }
    }
  }

  @Test func configsThatCannotWorkAreRefused() throws {
    let family = try #require(family)
    for overrides in [["mode": "chat"], ["kvHeads": "3"], ["heads": "5"], ["hidden": "36", "heads": "12"],
                      ["cacheLength": "0"], ["ropeTheta": "1"], ["rmsEps": "0"], ["sequence": "0"]] {
      #expect(throws: ModelError.self, "\(overrides)") { try family.trace(config: "tiny-decode", overrides: overrides) }
    }
  }
}
