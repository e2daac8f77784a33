import KilnTestSupport
import Models
import Testing
import Tracer

/// The pass pipeline on real models: every family's "tiny" graph keeps its outputs (to 1e-12
/// relative, the only change allowed being `x/c` → `x·(1/c)` rounding) and shrinks.
@Suite struct ModelPassTests {
  @Test(arguments: ModelRegistry.families.map(\.name))
  func optimizedTinyModelKeepsItsOutputs(family name: String) throws {
    let family = try #require(ModelRegistry.family(named: name))
    let graph = try family.trace(config: "tiny")
    let seed: UInt64 = 0xD17
    let feeds = randomFeeds(for: graph, seed: seed)
    let reference = try ReferenceInterpreter.evaluate(graph, inputs: feeds.inputs, params: feeds.params)
    let passes: [(String, Graph)] = [
      ("eliminatingDeadCode", graph.eliminatingDeadCode()),
      ("eliminatingCommonSubexpressions", graph.eliminatingCommonSubexpressions()),
      ("canonicalized", graph.canonicalized()),
      ("optimized", try graph.optimized()),
    ]
    for (pass, transformed) in passes {
      try transformed.verify()
      let outputs = try ReferenceInterpreter.evaluate(transformed, inputs: feeds.inputs, params: feeds.params)
      assertClose(outputs, reference, tolerance: 1e-12, seed: seed)
      #expect(transformed.nodes.count <= graph.nodes.count, "\(name): \(pass) grew the graph")
    }
    let optimized = try graph.optimized()
    #expect(optimized.nodes.count < graph.nodes.count, "\(name): optimized removed nothing")
  }

  @Test func optimizedDiTTinyHasOneSpellingOfEachConstantOperation() throws {
    let graph = try #require(ModelRegistry.family(named: "dit")).trace(config: "tiny")
    let optimized = try graph.optimized()
    func isConstant(_ id: Int) -> Bool { optimized[id].op.kind == "constant" }
    // The traced graph writes `1 + scale` (constant first); the optimized one never does.
    #expect(graph.nodes.contains { $0.op == .binary(.add) && graph[$0.operands[0]].op.kind == "constant" })
    for node in optimized.nodes {
      guard case .binary(let op) = node.op else { continue }
      if op.isCommutative { #expect(!isConstant(node.operands[0]) || isConstant(node.operands[1]), "\(op) has its constant first") }
      if op == .sub || op == .div {
        #expect(!isConstant(node.operands[1]) || optimized[node.operands[1]].shape.elementCount > 1, "a scalar \(op) survived")
      }
    }
    let constants = optimized.nodes.filter { $0.op.kind == "constant" }
    #expect(Set(constants.map { "\($0.op) \($0.shape)" }).count == constants.count, "equal constants left unmerged")
  }
}
