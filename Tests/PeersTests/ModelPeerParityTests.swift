import Bench
import Models
import Runtime
import Testing
import Tracer

/// Every registered model's tiny config, on seeded weights and inputs, exported to ONNX and run
/// in ONNX Runtime and OpenVINO: both match the Double reference interpreter within 1e-4.
@Suite(.enabled(if: peersAreInstalled, "the peers are not installed here: `make peers` adds ONNX Runtime and OpenVINO"))
struct ModelPeerParityTests {
  /// Families whose timestep is a flow-matching time in [0, 1] rather than a DDPM step.
  static let flowMatchingFamilies: Set<String> = ["mmdit", "video-dit"]

  @Test(arguments: ModelRegistry.families.map(\.name))
  func tinyConfigMatchesTheReferenceInBothPeers(family name: String) throws {
    let family = try #require(ModelRegistry.family(named: name))
    let graph = try family.trace(config: "tiny").optimized()
    let weights = try SeededWeights.initialize(for: graph, seed: 7)
    let inputs = try SeededInputs.make(for: graph, seed: 7, timestep: Self.flowMatchingFamilies.contains(name) ? 0.5 : 500)
    let loads = try peerLoads(graph, weights: weights, inputs: inputs, peers: Peer.allCases)
    expectParity(loads, peers: Peer.allCases, "\(name)-tiny")
  }
}
