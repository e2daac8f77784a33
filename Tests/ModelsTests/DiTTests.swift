import Testing
import Tracer
@testable import Models

@Suite struct DiTTests {
  /// DiT paper, Table 4: Gflops (multiply-adds) at 256×256 for the /2 models.
  @Test(arguments: [("s-2", 6.06), ("b-2", 23.01), ("l-2", 80.71), ("xl-2", 118.64)])
  func macsMatchThePaperAt256(config: String, paperGMACs: Double) throws {
    let statistics = GraphStatistics(try DiT.family(config: config))
    let gmacs = Double(statistics.macs) / 1e9
    #expect(abs(gmacs - paperGMACs) / paperGMACs < 0.01, "\(config): \(gmacs) GMACs, paper \(paperGMACs)")
  }

  /// The paper's 675 M counts the timestep and class embedders once, as this model does.
  @Test func xl2ParameterCountMatchesThePaper() throws {
    let params = Double(GraphStatistics(try DiT.family(config: "xl-2")).params)
    #expect(abs(params - 675e6) / 675e6 < 0.01, "\(params) parameters")
  }

  @Test func resolution512QuadruplesTokens() throws {
    let graph = try ModelRegistry.family(named: "dit")!.trace(config: "xl-2", overrides: ["resolution": "512"])
    let latent = try #require(graph.inputs.first { $0.name == "latent" })
    #expect(graph[latent.node].shape == [1, 4, 64, 64])
    #expect(graph[graph.outputs[0].node].shape == [1, 8, 64, 64])
  }

  @Test func tinyConfigTracesAndVerifies() throws {
    let graph = try DiT.family(config: "tiny")
    try graph.verify()
    #expect(graph.outputs.map(\.name) == ["noise_pred"])
    #expect(graph[graph.outputs[0].node].shape == [2, 8, 8, 8])
  }

  @Test func everyConfigTraces() throws {
    for name in DiT.configs.map(\.name) {
      try DiT.family(config: name).verify()
    }
  }

  @Test func headsThatDoNotDivideTheWidthAreRefused() {
    #expect(throws: ModelError.self) {
      try ModelRegistry.family(named: "dit")!.trace(config: "tiny", overrides: ["heads": "5"])
    }
  }

  @Test func unknownSettingNamesTheKnownOnes() {
    do {
      _ = try ModelRegistry.family(named: "dit")!.trace(config: "tiny", overrides: ["width": "5"])
      Issue.record("an unknown setting was accepted")
    } catch {
      #expect("\(error)".contains("no setting 'width'"))
      #expect("\(error)".contains("hidden"))
    }
  }
}

extension DiT {
  static func family(config: String) throws -> Graph {
    try ModelRegistry.family(named: family)!.trace(config: config)
  }
}
