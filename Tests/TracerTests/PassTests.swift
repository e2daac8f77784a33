import KilnTestSupport
import Testing
import Tracer

/// Each pass does its job on crafted graphs, and every pass keeps the interpreter's outputs on
/// seeded random graphs.
@Suite struct PassTests {
  // MARK: Helpers

  func count(_ graph: Graph, _ kind: String) -> Int { graph.nodes.filter { $0.op.kind == kind }.count }

  /// Evaluates both graphs on one random feed (drawn for `original`) and compares every output.
  func expectSameOutputs(_ original: Graph, _ transformed: Graph, seed: UInt64,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
    try transformed.verify()
    let feeds = randomFeeds(for: original, seed: seed)
    let before = try ReferenceInterpreter.evaluate(original, inputs: feeds.inputs, params: feeds.params)
    let after = try ReferenceInterpreter.evaluate(transformed, inputs: feeds.inputs, params: feeds.params)
    assertClose(after, before, tolerance: 1e-12, seed: seed, sourceLocation: sourceLocation)
  }

  // MARK: Dead-code elimination

  @Test func deadCodeEliminationDropsUnusedBranchesAndParamsButKeepsInputs() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [3])
      _ = b.input("unused_input", [2])
      _ = (x * b.param("unused.weight", [3])).tanh()
      b.output("y", x.exp())
    }
    let pruned = graph.eliminatingDeadCode()
    try pruned.verify()
    #expect(graph.nodes.count == 6)
    #expect(pruned.nodes.count == 3)
    #expect(pruned.inputs.map(\.name) == ["x", "unused_input"])
    #expect(pruned.params.isEmpty)
    #expect(pruned[pruned.outputs[0].node].op == .unary(.exp))
  }

  // MARK: Common-subexpression elimination

  @Test func cseMergesRepeatedOpsLeavesAndConstants() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [4])
      let again = b.input("x", [4])
      let w1 = b.param("w", [4])
      let w2 = b.param("w", [4])
      b.output("a", (x * w1).exp() + b.scalar(2))
      b.output("b", (again * w2).exp() + b.scalar(2))
    }
    let merged = graph.eliminatingCommonSubexpressions()
    try merged.verify()
    #expect(merged.nodes.count == 6)  // x, w, mul, exp, 2, add
    #expect(merged.outputs[0].node == merged.outputs[1].node)
    try expectSameOutputs(graph, merged, seed: 11)
  }

  @Test func cseKeepsDistinctValuesApart() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [4])
      b.output("a", x / b.scalar(0.0.nextUp))
      b.output("b", x * b.scalar(0.0) + x * b.scalar(-0.0))
      b.output("c", x.sum(axis: 0) + x.max(axis: 0) + x.slice(axis: 0, 0..<1) + x.slice(axis: 0, 1..<2))
    }
    let merged = graph.eliminatingCommonSubexpressions()
    #expect(merged.nodes.count == graph.nodes.count)
  }

  // MARK: Canonicalization

  @Test func canonicalizationFoldsReshapeAndPermuteChains() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [2, 3, 5])
      b.output("reshaped", x.reshape([6, 5]).reshape([3, 10]).reshape([30]))
      b.output("permuted", x.permute([1, 0, 2]).permute([0, 2, 1]))
      b.output("permuted_back", x.permute([1, 0, 2]).permute([0, 2, 1]).permute([2, 0, 1]).tanh())
      b.output("round_trip", x.reshape([30]).reshape([2, 3, 5]).exp())
    }
    let canonical = graph.canonicalized()
    try canonical.verify()
    #expect(count(canonical, "reshape") == 1)
    #expect(count(canonical, "permute") == 1)
    #expect(canonical[canonical.outputs[1].node].op == .permute([1, 2, 0]))
    #expect(canonical[canonical[canonical.outputs[2].node].operands[0]].op == .input("x"))
    #expect(canonical[canonical[canonical.outputs[3].node].operands[0]].op == .input("x"))
    try expectSameOutputs(graph, canonical, seed: 12)
  }

  @Test func canonicalizationDropsIdentityShapeOps() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [3, 4])
      let identities = x.reshape([3, 4]).permute([0, 1]).expand([3, 4]).slice(axis: -1, 0..<4).slice(axis: 0, 0..<3)
      b.output("y", identities.tanh())
      b.output("stretched", b.input("row", [1, 4]).expand([3, 4]).expand([2, 3, 4]))
    }
    let canonical = graph.canonicalized()
    try canonical.verify()
    #expect(canonical.nodes.map(\.op.kind) == ["input", "tanh", "input", "expand"])
    try expectSameOutputs(graph, canonical, seed: 13)
  }

  @Test func canonicalizationPutsConstantsSecondInCommutativeOps() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [3])
      b.output("sum", 2.0 + x)
      b.output("product", 3.0 * x)
      b.output("maximum", b.scalar(0.5).maximum(x))
      b.output("quotient", 4.0 / x)
      b.output("constants", b.scalar(1) + b.scalar(2))
    }
    let canonical = graph.canonicalized()
    try canonical.verify()
    func operandKinds(_ name: String) -> [String] {
      let node = canonical.outputs.first { $0.name == name }.map { canonical[$0.node] }
      return node?.operands.map { canonical[$0].op.kind } ?? []
    }
    #expect(operandKinds("sum") == ["input", "constant"])
    #expect(operandKinds("product") == ["input", "constant"])
    #expect(operandKinds("maximum") == ["input", "constant"])
    #expect(operandKinds("quotient") == ["constant", "input"])
    #expect(operandKinds("constants") == ["constant", "constant"])
    try expectSameOutputs(graph, canonical, seed: 14)
  }

  @Test func canonicalizationTurnsScalarDivisionAndSubtractionIntoMultiplyAndAdd() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [3, 2])
      b.output("scaled", x / 4)
      b.output("shifted", x - 3)
      b.output("by_row", x / b.constant(.dense([2, 8]), [1, 2]))
      b.output("by_zero", x / 0)
    }
    let canonical = graph.canonicalized()
    try canonical.verify()
    func output(_ name: String) -> Node? { canonical.outputs.first { $0.name == name }.map { canonical[$0.node] } }
    #expect(output("scaled")?.op == .binary(.mul))
    #expect(output("scaled").map { canonical[$0.operands[1]].op } == .constant(.splat(0.25)))
    #expect(output("shifted")?.op == .binary(.add))
    #expect(output("shifted").map { canonical[$0.operands[1]].op } == .constant(.splat(-3)))
    #expect(output("by_row")?.op == .binary(.div))
    #expect(output("by_zero")?.op == .binary(.div))
    #expect(count(canonical, "div") == 2)
  }

  // MARK: The pipeline

  @Test func optimizedMergesWhatCanonicalizationMakesEqual() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [5])
      b.output("halved", x.exp() / 2)
      b.output("times_half", 0.5 * x.exp())
      b.output("flattened", x.reshape([1, 5]).reshape([5, 1]).sum(axis: 0))
      b.output("flattened_again", x.reshape([5, 1]).sum(axis: 0))
    }
    let optimized = try graph.optimized()
    #expect(optimized.outputs[0].node == optimized.outputs[1].node)
    #expect(optimized.outputs[2].node == optimized.outputs[3].node)
    #expect(optimized.nodes.map(\.op.kind) == ["input", "exp", "constant", "mul", "reshape", "reduce_sum"])
    try expectSameOutputs(graph, optimized, seed: 15)
  }

  @Test func optimizedRefusesAnInvalidGraph() {
    let graph = Graph(nodes: [Node(op: .unary(.exp), operands: [0], shape: [2], dtype: .f32)],
                      outputs: [GraphOutput(name: "y", node: 0)])
    #expect(throws: TracerError.self) { try graph.optimized() }
  }

  // MARK: Semantics on random graphs

  @Test(arguments: 1...24 as ClosedRange<UInt64>)
  func everyPassKeepsOutputsOfRandomGraphs(seed: UInt64) throws {
    let graph = try randomGraph(seed: seed)
    try graph.verify()
    try expectSameOutputs(graph, graph.eliminatingDeadCode(), seed: seed)
    try expectSameOutputs(graph, graph.eliminatingCommonSubexpressions(), seed: seed)
    try expectSameOutputs(graph, graph.canonicalized(), seed: seed)
    let optimized = try graph.optimized()
    try expectSameOutputs(graph, optimized, seed: seed)
    #expect(optimized.nodes.count < graph.nodes.count, "seed \(seed)")
    #expect(try optimized.optimized() == optimized, "optimized is not a fixed point (seed \(seed))")
  }
}
