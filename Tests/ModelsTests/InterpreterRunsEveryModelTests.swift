import KilnTestSupport
import Models
import Testing
import Tracer

/// Every registered family, including those added later, traces at its "tiny" config and runs
/// through the reference interpreter to finite outputs of the declared shapes.
@Suite struct InterpreterRunsEveryModelTests {
  @Test(arguments: ModelRegistry.families.map(\.name))
  func tinyConfigEvaluatesToFiniteOutputsOfDeclaredShape(family name: String) throws {
    let family = try #require(ModelRegistry.family(named: name))
    #expect(family.configNames.contains("tiny"), "\(name) has no 'tiny' config")
    let graph = try family.trace(config: "tiny")
    let seed: UInt64 = 0x5EED
    let feeds = randomFeeds(for: graph, seed: seed)
    let outputs = try ReferenceInterpreter.evaluate(graph, inputs: feeds.inputs, params: feeds.params)
    #expect(outputs.count == graph.outputs.count)
    for output in graph.outputs {
      let value = try #require(outputs[output.name], "\(name): output '\(output.name)' missing")
      #expect(value.shape == graph[output.node].shape, "\(name): output '\(output.name)'")
      #expect(value.values.count == value.shape.elementCount)
      let finite = value.values.allSatisfy { $0.isFinite }
      #expect(finite, "\(name): output '\(output.name)' is not finite (seed \(seed))")
    }
  }
}
