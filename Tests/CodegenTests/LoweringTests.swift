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

  /// The SD VAE decoder's ResNets and upsamplers lower to convolutions that do the work around
  /// them: each upsampling is read in place by the 3×3 convolution after it, each group norm
  /// applies its SiLU, and a ResNet's second convolution adds its bias and the block's input.
  @Test func vaeDecoderConvolutionsAbsorbUpsamplingActivationsAndResiduals() throws {
    let graph = try ModelRegistry.family(named: "sd-vae-decoder")!.trace(config: "sd")
    let program = try Lowering.lower(graph: graph, profile: try Self.profile(), mode: .compiled, name: "vae")
    /// The body of the C function each kernel call runs.
    func bodies(calling entry: String) -> [Substring] {
      program.kernels.compactMap { kernel in
        guard let start = program.source.range(of: "static void \(kernel.function)("),
              let end = program.source.range(of: "\n}\n", range: start.upperBound..<program.source.endIndex)
        else { return nil }
        let body = program.source[start.upperBound..<end.lowerBound]
        return body.contains(entry + "(") ? body : nil
      }
    }
    #expect(program.kernels.filter { $0.template == "upsample" }.isEmpty)
    #expect(bodies(calling: "kiln_conv2d_upsample2x").count == 3)
    let groupNorms = bodies(calling: "kiln_groupnorm")
    // Every group norm but the attention's feeds a SiLU.
    #expect(groupNorms.count == 30)
    #expect(groupNorms.filter { $0.contains("KILN_ACT_SILU") }.count == groupNorms.count - 1)
    // 2 ResNets in the mid block and 3 in each of the 4 up blocks add their input in the second
    // convolution, but for the 2 that change width: their sum of two convolutions stays a loop.
    #expect(bodies(calling: "kiln_conv2d").filter { $0.contains(".residual = residual") }.count == 2 + 4 * 3 - 2)
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
