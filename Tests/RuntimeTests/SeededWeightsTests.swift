import KilnTestSupport
import Models
import Runtime
import Testing
import Tracer

@Suite struct SeededWeightsTests {
  static func tinyGraph(_ family: String) throws -> Graph {
    try #require(ModelRegistry.family(named: family)).trace(config: "tiny")
  }

  static func hostParams(_ weights: [String: RuntimeTensor]) throws -> [String: HostTensor] {
    try weights.mapValues { try HostTensor(shape: $0.shape, values: $0.floats.map(Double.init)) }
  }

  static func standardDeviation(_ values: [Double]) -> Double {
    let mean = values.reduce(0, +) / Double(values.count)
    return (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
  }

  @Test func sameSeedGivesIdenticalBytesAndAnotherSeedDifferentOnes() throws {
    let graph = try Self.tinyGraph("dit")
    let first = try SeededWeights.initialize(for: graph, seed: 7)
    let again = try SeededWeights.initialize(for: graph, seed: 7)
    let other = try SeededWeights.initialize(for: graph, seed: 8)
    #expect(Set(first.keys) == Set(graph.params.map(\.name)))
    for (name, tensor) in first {
      #expect(tensor.floats.map(\.bitPattern) == again[name]?.floats.map(\.bitPattern), "\(name)")
      #expect(tensor.floats != other[name]?.floats, "\(name) did not change with the seed")
    }
  }

  @Test func rolesComeFromDataFlow() throws {
    let dit = SeededWeights.roles(in: try Self.tinyGraph("dit"))
    #expect(dit["transformer_blocks.0.attn1.to_q.weight"] == .linear(fanIn: 32))
    #expect(dit["transformer_blocks.1.ff.net.2.weight"] == .linear(fanIn: 128))
    #expect(dit["transformer_blocks.0.norm1.emb.timestep_embedder.linear_1.weight"] == .linear(fanIn: 256))
    #expect(dit["pos_embed.proj.weight"] == .convolution(fanIn: 4 * 2 * 2))
    #expect(dit["transformer_blocks.0.norm1.emb.class_embedder.embedding_table.weight"] == .embedding)
    #expect(dit["transformer_blocks.0.attn1.to_q.bias"] == .shift)
    #expect(dit["pos_embed.proj.bias"] == .shift)
    let vae = SeededWeights.roles(in: try Self.tinyGraph("sd-vae-decoder"))
    #expect(vae["decoder.conv_in.weight"] == .convolution(fanIn: 4 * 3 * 3))
    #expect(vae["decoder.mid_block.resnets.0.norm1.weight"] == .scale)
    #expect(vae["decoder.mid_block.resnets.0.norm1.bias"] == .shift)
    let llama = SeededWeights.roles(in: try Self.tinyGraph("llama"))
    let rmsScales = llama.filter { $0.value == .scale }
    #expect(!rmsScales.isEmpty, "llama's RMS norm scales were not recognized: \(llama)")
  }

  @Test func scalesCenterOnOneAndLinearWeightsScaleWithFanIn() throws {
    let graph = try Self.tinyGraph("sd-vae-decoder")
    let weights = try SeededWeights.initialize(for: graph, seed: 3)
    let scale = try #require(weights["decoder.mid_block.resnets.0.norm1.weight"]).floats
    #expect(scale.allSatisfy { abs($0 - 1) <= 0.04 && $0 != 1 })
    let query = try #require(weights["decoder.mid_block.attentions.0.to_q.weight"]).floats.map(Double.init)
    let deviation = Self.standardDeviation(query)
    // 32×32 draws of standard deviation 1/√32 ≈ 0.177.
    #expect(abs(deviation - 1 / 32.0.squareRoot()) < 0.02, "standard deviation \(deviation)")
  }

  /// adaLN-Zero gates trained from zero are not zero in a trained model, and must not be here, or
  /// every block would be the identity and the benchmark would measure a degenerate network.
  @Test func ditTinyGatesAreNonZeroAndItsOutputHasARealisticSpread() throws {
    let graph = try Self.tinyGraph("dit")
    let seed: UInt64 = 0x6A7E
    let weights = try SeededWeights.initialize(for: graph, seed: seed)
    let values = try ReferenceInterpreter.evaluateAll(graph, inputs: randomFeeds(for: graph, seed: seed).inputs,
                                                      params: Self.hostParams(weights))
    let users = graph.users()
    let hidden = 32
    for block in 0..<2 {
      // The modulation is the linear whose bias is this block's `norm1.linear.bias`: the add that
      // reads the bias (through any shape op) is its output, [batch, 6·hidden].
      let bias = try #require(graph.params.first { $0.name == "transformer_blocks.\(block).norm1.linear.bias" }).node
      var reader = bias
      while let next = users[reader].first, graph[next].op.isShapeOp { reader = next }
      let modulation = try #require(users[reader].first { graph[$0].op == .binary(.add) })
      let output = values[modulation]
      #expect(output.shape.dims.last == 6 * hidden)
      let rows = output.values.count / (6 * hidden)
      for row in 0..<rows {
        for chunk in [2, 5] {  // gate_msa and gate_mlp
          let gate = output.values[(row * 6 * hidden + chunk * hidden)..<(row * 6 * hidden + (chunk + 1) * hidden)]
          let meanMagnitude = gate.map(abs).reduce(0, +) / Double(hidden)
          #expect(gate.allSatisfy { $0 != 0 }, "block \(block) row \(row) gate \(chunk) has a zero (seed \(seed))")
          #expect(meanMagnitude > 0.05, "block \(block) row \(row) gate \(chunk): mean |gate| \(meanMagnitude) (seed \(seed))")
        }
      }
    }
    let output = try #require(graph.outputs.first).node
    let deviation = Self.standardDeviation(values[output].values)
    #expect(values[output].values.allSatisfy { $0.isFinite })
    #expect((0.1...10).contains(deviation), "DiT tiny output standard deviation \(deviation) (seed \(seed))")
  }

  @Test(arguments: ModelRegistry.families.map(\.name))
  func everyTinyModelRunsToFiniteOutputsWithSeededWeights(family: String) throws {
    let graph = try Self.tinyGraph(family)
    let weights = try SeededWeights.initialize(for: graph, seed: 5)
    let outputs = try ReferenceInterpreter.evaluate(graph, inputs: randomFeeds(for: graph, seed: 5).inputs,
                                                    params: Self.hostParams(weights))
    for (name, tensor) in outputs {
      #expect(tensor.values.allSatisfy { $0.isFinite }, "\(family): output '\(name)'")
      let deviation = Self.standardDeviation(tensor.values)
      #expect((0.01...100).contains(deviation), "\(family): output '\(name)' standard deviation \(deviation)")
    }
  }
}
