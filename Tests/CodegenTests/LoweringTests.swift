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
