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
    let source = program.source
    /// The body of C function `name`: after the signature that opens a brace (not a prototype).
    func body(of name: String) -> Substring? {
      var from = source.startIndex
      while let signature = source.range(of: "void \(name)(", range: from..<source.endIndex) {
        from = signature.upperBound
        guard let close = source.range(of: ")", range: from..<source.endIndex) else { return nil }
        guard source[close.upperBound...].drop(while: \.isWhitespace).first == "{",
              let end = source.range(of: "\n}\n", range: close.upperBound..<source.endIndex) else { continue }
        return source[close.upperBound..<end.lowerBound]
      }
      return nil
    }
    /// The bodies of the kernel calls whose function calls template entry point `entry`.
    func bodies(calling entry: String) -> [Substring] {
      program.kernels.compactMap { body(of: $0.function) }.filter { $0.contains(entry + "(") }
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

  @Test func aModelWithManyTemplateInstancesSplitsIntoBalancedTranslationUnits() throws {
    let graph = try ModelRegistry.family(named: "dit")!.trace(config: "tiny")
    let program = try Lowering.lower(graph: graph, profile: try Self.profile(), mode: .compiled, name: "dit-tiny")
    #expect(program.translationUnits == 2)
    // Every kernel function is defined in exactly one part and prototyped once for the others.
    for function in Set(program.kernels.map(\.function)) {
      let definitions = program.source.components(separatedBy: "KILN_KERNEL_FN void \(function)(").count - 1
      #expect(definitions == 2, "\(function): \(definitions) prototypes + definitions, expected one of each")
    }
    #expect(program.source.contains("#if KILN_IN_PART(1)") && program.source.contains("#if KILN_IN_PART(0)"))
  }

  @Test func aSmallModuleStaysOneTranslationUnit() {
    let split = TranslationUnitSplit(functions: ["static void f0_pointwise(float *y) {\n}\n"], templates: ["pointwise"], calls: 1)
    #expect(split.parts == 1)
    #expect(!split.kernelSection.contains("KILN_IN_PART"))
  }

  @Test func splitWeighsTemplateInstancesNotFunctionCounts() {
    let gemms = (0..<4).map { "static void f\($0)_gemm(float *c) {\n}\n" }
    let loops = (4..<40).map { "static void f\($0)_pointwise(float *y) {\n}\n" }
    let split = TranslationUnitSplit(functions: gemms + loops, templates: Array(repeating: "gemm", count: 4) + Array(repeating: "pointwise", count: 36),
                                     calls: 40)
    #expect(split.parts == 2)
    let gemmParts = (0..<4).map { index in
      split.kernelSection.components(separatedBy: "\n#if KILN_IN_PART(").dropFirst()
        .first { $0.contains("void f\(index)_gemm(float *c) {") }.map { $0.prefix(1) } ?? "?"
    }
    #expect(gemmParts.filter { $0 == "0" }.count == 2 && gemmParts.filter { $0 == "1" }.count == 2, "\(gemmParts)")
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
