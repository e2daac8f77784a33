import Foundation
import Testing
import Tracer
import Models
@testable import Codegen

private func ditGraph(_ name: String) throws -> (Graph, DiT.Config) {
  let (family, configName) = try ModelRegistry.resolve(name)
  let config = try #require(DiT.configs.first { $0.name == configName }?.config)
  return (try family.trace(config: configName), config)
}

private func isClose(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-12 * max(1, abs(b)) }

/// Every node belongs to at most one match and matches name only non-leaf nodes.
private func expectPartition(_ patterns: PatternSet, _ graph: Graph) {
  var seen = Set<Int>()
  for match in patterns.matches {
    for node in match.nodes {
      #expect(!seen.contains(node), "node \(node) is in two matches")
      #expect(!graph[node].op.isLeaf)
      seen.insert(node)
    }
    #expect(match.nodes.contains(match.output))
  }
  #expect(seen.isDisjoint(with: patterns.singleOps))
}

@Suite struct DiTPatternTests {
  @Test func tinyDiTHasOneSelfAttentionPerBlock() throws {
    let (graph, config) = try ditGraph("dit-tiny")
    let patterns = PatternSet(discoveringIn: graph)
    expectPartition(patterns, graph)
    #expect(patterns.patterns["attention"] == config.depth)
    for attention in patterns.attentions {
      #expect(attention.queryLength == config.tokens && attention.keyLength == config.tokens)
      #expect(attention.headDim == config.hidden / config.heads && attention.valueDim == config.hidden / config.heads)
      #expect(attention.batchShape == [config.batch, config.heads])
      #expect(attention.keyLayout == .rowMajor && attention.mask == nil)
      #expect(isClose(attention.scale, 1 / Double(config.hidden / config.heads).squareRoot()))
    }
  }

  @Test func ditXL2HasTwentyEightAttentionsWithHeadDim72() throws {
    let (graph, config) = try ditGraph("dit-xl-2")
    let patterns = PatternSet(discoveringIn: graph)
    expectPartition(patterns, graph)
    #expect(config.depth == 28)
    #expect(patterns.attentions.count == 28)
    for attention in patterns.attentions {
      #expect(attention.queryLength == 256 && attention.keyLength == 256)
      #expect(attention.headDim == 72)
      #expect(isClose(attention.scale, 1 / 72.0.squareRoot()))
    }
  }

  @Test func ditLayerNormsWithModulationAreFoundTwicePerBlockAndOnceAtTheEnd() throws {
    for name in ["dit-tiny", "dit-xl-2"] {
      let (graph, config) = try ditGraph(name)
      let norms = PatternSet(discoveringIn: graph).normalizations
      let modulated = norms.filter { $0.kind == .layerNorm && $0.modulationScale != nil && $0.modulationShift != nil }
      #expect(norms.count == 2 * config.depth + 1, "\(name)")
      #expect(modulated.count == 2 * config.depth + 1, "\(name)")
      #expect(modulated.allSatisfy { $0.eps == 1e-6 && $0.weight == nil && $0.rowLength == config.hidden })
    }
  }

  @Test func ditLinearsCarryTheirEpilogues() throws {
    let (graph, config) = try ditGraph("dit-tiny")
    let gemms = PatternSet(discoveringIn: graph).gemms
    func activations(_ gemm: GemmMatch) -> [Activation] {
      gemm.epilogue.compactMap { if case .activation(let kind) = $0 { return kind } else { return nil } }
    }
    // The MLP's first linear: bias then GELU (tanh form).
    let geluGemms = gemms.filter { activations($0) == [.geluTanh] }
    #expect(geluGemms.count == config.depth)
    #expect(geluGemms.allSatisfy { $0.bIsWeight && $0.bTransposed && $0.n == config.mlpRatio * config.hidden })
    // Attention output and MLP output linears: bias, gate, residual.
    let gatedResidual = gemms.filter { gemm in
      gemm.epilogue.count == 3 && {
        if case .bias = gemm.epilogue[0], case .gate = gemm.epilogue[1], case .residual = gemm.epilogue[2] { return true }
        return false
      }()
    }
    #expect(gatedResidual.count == 2 * config.depth)
    // The timestep MLP's first linear is followed by SiLU.
    #expect(gemms.contains { activations($0) == [.silu] })
  }
}

@Suite struct AttentionFormTests {
  /// q [B, H, S, D], k [B, H, L, D], v [B, H, L, Dv] inputs; `body` writes the attention.
  private func discover(s: Int = 7, l: Int = 7, d: Int = 8, dv: Int = 8,
                        _ body: (GraphBuilder, Tensor, Tensor, Tensor) -> Tensor) throws -> (PatternSet, Graph) {
    let graph = try Graph.trace { b in
      let q = b.input("q", [2, 3, s, d])
      let k = b.input("k", [2, 3, l, d])
      let v = b.input("v", [2, 3, l, dv])
      b.output("out", body(b, q, k, v))
    }
    try graph.verify()
    let patterns = PatternSet(discoveringIn: graph)
    expectPartition(patterns, graph)
    return (patterns, graph)
  }

  @Test func attentionFromTheDSLHelperIsDiscovered() throws {
    let (patterns, graph) = try discover { _, q, k, v in attention(q, k, v) }
    let match = try #require(patterns.attentions.first)
    #expect(patterns.attentions.count == 1)
    #expect(match.q == graph.inputs[0].node && match.k == graph.inputs[1].node && match.v == graph.inputs[2].node)
    #expect(match.output == graph.outputs[0].node && match.softmaxSubtractsMax)
    #expect(isClose(match.scale, 1 / 8.0.squareRoot()))
    #expect(patterns.matches.count == 1 && patterns.singleOps.isEmpty)
  }

  @Test func attentionDiscoveredWhenScaleAppliedToQuery() throws {
    let (patterns, _) = try discover { _, q, k, v in softmax((q * 0.25).matmul(k.transposed())).matmul(v) }
    let match = try #require(patterns.attentions.first)
    #expect(isClose(match.scale, 0.25))
  }

  @Test func attentionDiscoveredWhenScaleAppliedToKeyAndScores() throws {
    let (patterns, _) = try discover { _, q, k, v in
      softmax(q.matmul((k * 0.5).transposed()) * 0.3).matmul(v)
    }
    let match = try #require(patterns.attentions.first)
    #expect(isClose(match.scale, 0.15) && match.keyLayout == .rowMajor)
  }

  @Test func attentionDiscoveredWithoutMaxSubtraction() throws {
    let (patterns, _) = try discover { _, q, k, v in
      let e = (q.matmul(k.transposed()) * 0.125).exp()
      return (e * e.sum(axis: -1).reciprocal()).matmul(v)
    }
    let match = try #require(patterns.attentions.first)
    #expect(!match.softmaxSubtractsMax && isClose(match.scale, 0.125))
  }

  @Test func attentionDiscoveredWithKeyStoredTransposed() throws {
    let graph = try Graph.trace { b in
      let q = b.input("q", [2, 3, 5, 8])
      let kT = b.input("k_t", [2, 3, 8, 11])
      let v = b.input("v", [2, 3, 11, 4])
      b.output("out", softmax(q.matmul(kT) * 0.35).matmul(v))
    }
    let match = try #require(PatternSet(discoveringIn: graph).attentions.first)
    #expect(match.keyLayout == .transposedStored && match.k == graph.inputs[1].node)
    #expect(match.queryLength == 5 && match.keyLength == 11 && match.headDim == 8 && match.valueDim == 4)
    #expect(isClose(match.scale, 0.35))
  }

  @Test func attentionDiscoveredWhenScoresAreDividedBySquareRootOfD() throws {
    let (patterns, _) = try discover(d: 16) { b, q, k, v in
      softmax(q.matmul(k.transposed()) / b.scalar(16).sqrt()).matmul(v)
    }
    let match = try #require(patterns.attentions.first)
    #expect(isClose(match.scale, 0.25))
  }

  @Test func attentionDiscoveredWithAdditiveMask() throws {
    var maskNode = -1
    let (patterns, _) = try discover(s: 6, l: 6) { b, q, k, v in
      let mask = b.input("mask", [6, 6])
      maskNode = mask.id
      return attention(q, k, v, mask: mask)
    }
    let match = try #require(patterns.attentions.first)
    #expect(match.mask == maskNode && isClose(match.scale, 1 / 8.0.squareRoot()))
  }

  @Test func crossAttentionWithDifferentKeyLengthIsDiscovered() throws {
    let (patterns, _) = try discover(s: 7, l: 13, d: 8, dv: 5) { _, q, k, v in attention(q, k, v, scale: 0.2) }
    let match = try #require(patterns.attentions.first)
    #expect(match.queryLength == 7 && match.keyLength == 13 && match.valueDim == 5 && match.batchShape == [2, 3])
    #expect(isClose(match.scale, 0.2))
  }

  @Test func softmaxOverTheWrongAxisIsNotAttention() throws {
    let (patterns, graph) = try discover { _, q, k, v in
      softmax(q.matmul(k.transposed()) * 0.125, axis: -2).matmul(v)
    }
    #expect(patterns.attentions.isEmpty)
    let standalone = try #require(patterns.softmaxes.first)
    #expect(standalone.axis == 2 && standalone.subtractsMax)
    #expect(patterns.counts[.matmul] == 2)
    _ = graph
  }

  @Test func standaloneSoftmaxWrittenWithOneOverSumIsFound() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [3, 11])
      let e = (x - x.max(axis: 1)).exp()
      b.output("p", (1.0 / e.sum(axis: -1)) * e)
    }
    let patterns = PatternSet(discoveringIn: graph)
    let softmax = try #require(patterns.softmaxes.first)
    #expect(patterns.matches.count == 1 && patterns.singleOps.isEmpty)
    #expect(softmax.input == graph.inputs[0].node && softmax.axis == 1 && softmax.nodes.count == 6)
  }

  @Test func matmulWithAWeightInPlaceOfValuesIsNotAttention() throws {
    let (patterns, _) = try discover { b, q, k, _ in
      softmax(q.matmul(k.transposed()) * 0.125).matmul(b.param("w", [7, 8]))
    }
    #expect(patterns.attentions.isEmpty)
    #expect(patterns.softmaxes.count == 1)
  }

  @Test func scoresReadElsewhereAreNotFusedIntoAttention() throws {
    let graph = try Graph.trace { b in
      let q = b.input("q", [2, 4, 8])
      let k = b.input("k", [2, 4, 8])
      let v = b.input("v", [2, 4, 8])
      let scores = q.matmul(k.transposed()) * 0.5
      b.output("out", softmax(scores).matmul(v))
      b.output("scores", scores)
    }
    #expect(PatternSet(discoveringIn: graph).attentions.isEmpty)
  }
}

@Suite struct EpilogueTests {
  private func linearThen(_ activation: (Tensor) -> Tensor) throws -> (GemmMatch, Graph) {
    let graph = try Graph.trace { b in
      let x = b.input("x", [2, 5, 8])
      b.output("y", activation(b.linear("fc", x, out: 13)))
    }
    let patterns = PatternSet(discoveringIn: graph)
    expectPartition(patterns, graph)
    #expect(patterns.matches.count == 1)
    return (try #require(patterns.gemms.first), graph)
  }

  @Test func geluTanhEpilogueIsRecognizedAfterALinear() throws {
    let (gemm, graph) = try linearThen { gelu($0, approximation: .tanh) }
    #expect(gemm.epilogue == [.bias(graph.params[1].node), .activation(.geluTanh)])
    #expect(gemm.output == graph.outputs[0].node && gemm.m == 10 && gemm.n == 13 && gemm.k == 8)
    #expect(gemm.b == graph.params[0].node && gemm.bTransposed && gemm.bIsWeight)
  }

  @Test func geluErfEpilogueIsRecognizedAfterALinear() throws {
    let (gemm, graph) = try linearThen { gelu($0, approximation: .none) }
    #expect(gemm.epilogue == [.bias(graph.params[1].node), .activation(.geluErf)])
  }

  @Test func geluWrittenWithPowAndSwappedFactorsIsRecognized() throws {
    let (gemm, _) = try linearThen { x in
      let inner = (x + x.pow(3) * 0.044715) * (2 / Double.pi).squareRoot()
      return x * ((inner.tanh() + 1) * 0.5)
    }
    #expect(gemm.epilogue.last == .activation(.geluTanh))
  }

  @Test func siluEpilogueIsRecognizedAfterALinear() throws {
    let (gemm, _) = try linearThen { silu($0) }
    #expect(gemm.epilogue.last == .activation(.silu))
    let (divided, _) = try linearThen { x in x / ((-x).exp() + 1) }
    #expect(divided.epilogue.last == .activation(.silu))
  }

  @Test func scaleResidualAndGateAreAbsorbed() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [2, 5, 8])
      let residual = b.input("r", [2, 5, 13])
      let gate = b.input("g", [2, 13])
      let y = linear(x, weight: b.param("w", [13, 8])) * 0.5
      b.output("y", residual + gate.unsqueeze(1) * y)
    }
    let gemm = try #require(PatternSet(discoveringIn: graph).gemms.first)
    let gateReshape = graph.nodes.indices.first { if case .reshape = graph[$0].op { return true } else { return false } }
    #expect(gemm.epilogue == [.scale(0.5), .gate(try #require(gateReshape)), .residual(graph.inputs[1].node)])
  }

  @Test func epilogueStopsWhereTheIntermediateHasAnotherReader() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [4, 8])
      let h = b.linear("fc", x, out: 8)
      b.output("y", gelu(h, approximation: .tanh))
      b.output("h", h)
    }
    let gemm = try #require(PatternSet(discoveringIn: graph).gemms.first)
    #expect(gemm.epilogue.count == 1 && gemm.output == graph.outputs[1].node)
  }

  @Test func activationTimesActivationMatmulIsItsOwnKind() throws {
    let graph = try Graph.trace { b in
      let a = b.input("a", [3, 5, 7])
      let c = b.input("c", [3, 7, 4])
      b.output("y", a.matmul(c) + b.param("bias", [4]))
    }
    let patterns = PatternSet(discoveringIn: graph)
    let gemm = try #require(patterns.gemms.first)
    #expect(patterns.patterns == ["matmul": 1])
    #expect(!gemm.bIsWeight && gemm.batchShape == [3] && gemm.m == 5 && gemm.n == 4 && gemm.k == 7)
    #expect(gemm.epilogue == [.bias(graph.params[0].node)])
  }
}

@Suite struct NormalizationTests {
  @Test func groupNormWithAffineIsFound() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [2, 8, 5, 3])
      b.output("y", b.groupNorm("norm", x, groups: 4))
    }
    let patterns = PatternSet(discoveringIn: graph)
    expectPartition(patterns, graph)
    let norm = try #require(patterns.normalizations.first)
    #expect(patterns.matches.count == 1)
    #expect(norm.kind == .groupNorm && norm.groups == 4 && norm.rowLength == 2 * 15 && norm.eps == 1e-6)
    #expect(norm.input == graph.inputs[0].node && norm.output == graph.outputs[0].node)
    #expect(norm.weight != nil && norm.bias != nil && norm.modulationScale == nil)
  }

  @Test func groupNormWithoutAffineIsFound() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [1, 6, 4, 4])
      b.output("y", groupNorm(x, groups: 3, eps: 1e-5))
    }
    let norm = try #require(PatternSet(discoveringIn: graph).normalizations.first)
    #expect(norm.kind == .groupNorm && norm.groups == 3 && norm.weight == nil && norm.output == graph.outputs[0].node)
  }

  @Test func layerNormWrittenWithDivisionBySqrtIsFound() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [3, 10])
      let centered = x - x.mean(axis: 1)
      let y = centered / (centered.pow(2).mean(axis: -1) + 1e-5).sqrt()
      b.output("y", y * b.param("w", [10]) + b.param("b", [10]))
    }
    let norm = try #require(PatternSet(discoveringIn: graph).normalizations.first)
    #expect(norm.kind == .layerNorm && norm.eps == 1e-5 && norm.weight == graph.params[0].node
            && norm.bias == graph.params[1].node && norm.output == graph.outputs[0].node)
  }

  @Test func rmsNormWithWeightIsFound() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [2, 3, 12])
      b.output("y", b.rmsNorm("norm", x))
    }
    let norm = try #require(PatternSet(discoveringIn: graph).normalizations.first)
    #expect(norm.kind == .rmsNorm && norm.weight != nil && norm.input == graph.inputs[0].node)
  }

  @Test func normalizationOverAnotherAxisIsNotANorm() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [3, 10])
      let centered = x - x.mean(axis: 0)
      b.output("y", centered * ((centered * centered).mean(axis: 0) + 1e-5).rsqrt())
    }
    #expect(PatternSet(discoveringIn: graph).normalizations.isEmpty)
  }
}

@Suite struct PointwiseTests {
  @Test func pointwiseChainBecomesOneRegionWithOneOutput() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [4, 9])
      let y = b.input("y", [9])
      b.output("z", ((x * y).exp() - x.max(axis: -1)).tanh() + 1)
    }
    let patterns = PatternSet(discoveringIn: graph)
    let region = try #require(patterns.pointwiseRegions.first)
    #expect(patterns.matches.count == 1)
    #expect(region.output == graph.outputs[0].node && region.nodes.count == 6)
    #expect(Set(region.operands).isSuperset(of: [graph.inputs[0].node, graph.inputs[1].node]))
  }

  @Test func valueReadOutsideSplitsTheRegion() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [4, 9])
      let shared = (x * 2).exp()
      b.output("a", shared.tanh().sin())
      b.output("b", -shared.cos())
    }
    let regions = PatternSet(discoveringIn: graph).pointwiseRegions
    #expect(regions.count == 3)
    #expect(regions.allSatisfy { $0.nodes.count == 2 })
  }
}
