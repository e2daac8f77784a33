import Foundation
import Testing
import Tracer
@testable import Codegen
import Models

@Suite struct LoweringTests {
  static func profile() throws -> HardwareProfile {
    try HardwareProfile.named("x86-64-avx512", host: HostDetection.current())
  }

  @Test func ditXL2CompiledHasOneAttentionKernelPerBlockAndATightArena() throws {
    let graph = try ModelRegistry.family(named: "dit")!.trace(config: "xl-2", overrides: ["batch": "2"])
    let program = try Lowering.lower(graph: graph, profile: try Self.profile(), mode: .compiled, name: "dit-xl-2")
    #expect(program.patterns["attention"] == 28)
    #expect(program.kernels.filter { $0.template == "attention" }.count == 28)
    #expect(Double(program.arenaBytes) <= 1.5 * Double(program.liveBytesLowerBound),
            "arena \(program.arenaBytes) B against \(program.liveBytesLowerBound) B live at most")
    // Identical blocks share their kernel functions: the count does not grow with depth.
    let functions = Set(program.kernels.map(\.function)).count
    #expect(functions < program.kernels.count / 10, "\(functions) functions for \(program.kernels.count) kernels")
  }

  @Test(arguments: ["dit", "sd-vae-decoder", "video-dit", "mmdit", "llama"])
  func everyFamilyLowersInBothModes(family name: String) throws {
    let family = try #require(ModelRegistry.family(named: name))
    let graph = try family.trace(config: "tiny")
    for mode in LoweringMode.allCases {
      let program = try Lowering.lower(graph: graph, profile: try Self.profile(), mode: mode, name: name)
      #expect(!program.kernels.isEmpty)
      #expect(program.outputs.count == graph.outputs.count)
    }
  }
}
