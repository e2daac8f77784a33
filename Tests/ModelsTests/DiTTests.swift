import Testing
import Tracer
@testable import Models

@Suite struct DiTTests {
  @Test func tinyConfigTraces() throws {
    let graph = try ModelRegistry.resolve("dit-tiny").family.trace(config: "tiny")
    #expect(graph.outputs.map(\.name) == ["noise_pred"])
    #expect(graph[graph.outputs[0].node].shape == [2, 8, 8, 8])
  }
}
