import Foundation
import Testing
import Tracer
import Models

/// Every config of every registered family, so a model added to the registry is covered at once.
let registeredModelConfigs: [(family: String, config: String)] = ModelRegistry.families.flatMap { family in
  family.configNames.map { (family.name, $0) }
}

@Suite struct GraphJSONRoundTripTests {
  @Test(arguments: registeredModelConfigs.map { "\($0.family)-\($0.config)" })
  func registeredModelRoundTripsByteIdentically(model: String) throws {
    let (family, config) = try ModelRegistry.resolve(model)
    let graph = try family.trace(config: config)
    let data = try graph.jsonData()
    let decoded = try Graph(jsonData: data)
    #expect(decoded == graph)
    #expect(try decoded.jsonData() == data)
  }

  @Test func registryHasConfigsToRoundTrip() {
    #expect(registeredModelConfigs.count >= ModelRegistry.families.count)
    #expect(!ModelRegistry.families.isEmpty)
  }
}
