import Codegen
import Foundation
import KilnTestSupport
import Runtime
import Testing
import Tracer

@testable import Bench

/// The graphs the kernel benchmarks time compute what they claim: Kiln's compiled module, the
/// eager-blas executor and the direct OpenBLAS sgemm against the Double reference interpreter, on
/// random inputs at awkward sizes (prime N and K, a batch of two samples, Sq ≠ Skv).
@Suite(.serialized) struct KernelBenchmarkGraphTests {
  static func runtime(_ tensors: [String: HostTensor]) throws -> [String: RuntimeTensor] {
    try tensors.mapValues { try RuntimeTensor(shape: $0.shape, floats: $0.values.map(Float.init)) }
  }

  static func doubles(_ tensor: RuntimeTensor?) -> [Double] { tensor?.floats.map(Double.init) ?? [] }

  /// Kiln's compiled output and its program, beside the reference's output, for `graph`.
  static func compiledAndReference(_ graph: Graph, seed: UInt64, threads: Int = 2) throws
    -> (compiled: [Double], reference: [Double], program: Program) {
    let profile = try HardwareProfile.named(HardwareProfile.nativeName)
    let program = try Lowering.lower(graph: graph, profile: profile, mode: .compiled, name: "kernel-benchmark-check")
    let feeds = randomFeeds(for: graph, seed: seed)
    let executor = try CompiledExecutor(program: program, weights: try runtime(feeds.params), threads: threads)
    let name = try #require(graph.outputs.first?.name)
    let compiled = doubles(try executor.run(try runtime(feeds.inputs))[name])
    let reference = try #require(try ReferenceInterpreter.evaluate(graph, inputs: feeds.inputs, params: feeds.params)[name])
    return (compiled, reference.values, program)
  }

  static let awkwardGemm = GemmBenchmarkShape(m: 14, n: 131, k: 37, batch: 2, epilogue: .none)

  @Test(arguments: GemmEpilogue.allCases)
  func gemmGraphWithEachEpilogueMatchesTheReferenceAsOneGemmKernel(epilogue: GemmEpilogue) throws {
    let seed: UInt64 = 0x6E44 + UInt64(GemmEpilogue.allCases.firstIndex(of: epilogue) ?? 0)
    let graph = try KernelBenchmarkGraphs.gemm(Self.awkwardGemm, epilogue: epilogue)
    let (compiled, reference, program) = try Self.compiledAndReference(graph, seed: seed)
    let error = relativeError(compiled, reference)
    #expect(error <= float32Tolerance, "\(epilogue.rawValue): relative error \(error) (seed \(seed))")
    // What the benchmark claims to time: the epilogue fused into the GEMM, no other kernel.
    #expect(program.kernels.map(\.template) == ["gemm"], "\(epilogue.rawValue): \(program.kernels.map(\.template))")
  }

  @Test func openBLASBaselineComputesTheBareProduct() throws {
    let shape = Self.awkwardGemm
    let graph = try KernelBenchmarkGraphs.gemm(shape, epilogue: .none)
    let seed: UInt64 = 0xB1A5
    let feeds = randomFeeds(for: graph, seed: seed)
    let x = try #require(feeds.inputs["x"]).values.map(Float.init)
    let weight = try #require(feeds.params["weight"]).values.map(Float.init)
    let gemm = try OpenBLASGemm(a: x, weight: weight, m: shape.m, n: shape.n, k: shape.k, threads: 2)
    _ = gemm.run()
    let reference = try #require(try ReferenceInterpreter.evaluate(graph, inputs: feeds.inputs, params: feeds.params)["y"])
    let error = relativeError(gemm.result.map(Double.init), reference.values)
    #expect(error <= float32Tolerance, "relative error \(error) (seed \(seed))")
  }

  @Test func openBLASPinnedToKilnsCPUsGivesTheSameProductAndGivesTheCallerItsAffinityBack() throws {
    let shape = Self.awkwardGemm
    let plan = try PlacementPlan(topology: try Topology.current(), threads: 2)
    var rng = SplitMix64(seed: 0x5EED)
    let x = randomTensor([shape.m, shape.k], using: &rng).values.map(Float.init)
    let weight = randomTensor([shape.n, shape.k], using: &rng).values.map(Float.init)
    let floating = try OpenBLASGemm(a: x, weight: weight, m: shape.m, n: shape.n, k: shape.k, threads: plan.threadCount)
    let pinned = try OpenBLASGemm(a: x, weight: weight, m: shape.m, n: shape.n, k: shape.k, threads: plan.threadCount,
                                  pinnedTo: plan.cpuOfThread)
    /// This thread's allowed CPUs, as the kernel lists them.
    func callerAffinity() throws -> String {
      let status = try String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8)
      return status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }.map(String.init) ?? ""
    }
    let before = try callerAffinity()
    #expect(!before.isEmpty)
    _ = floating.run()
    _ = pinned.run()
    #expect(try callerAffinity() == before)
    #expect(pinned.ranPinned == pinned.blas.canPinThreads)
    #expect(relativeError(pinned.result.map(Double.init), floating.result.map(Double.init)) <= float32Tolerance)
  }

  @Test(arguments: [
    AttentionBenchmarkShape(label: "self", batch: 2, heads: 3, queries: 13, keys: 13, headDim: 72),
    AttentionBenchmarkShape(label: "cross", batch: 1, heads: 2, queries: 7, keys: 131, headDim: 64),
  ])
  func attentionGraphMatchesTheReferenceAsOneFusedKernelAndEagerToo(shape: AttentionBenchmarkShape) throws {
    let seed: UInt64 = 0xA77E + UInt64(shape.keys)
    let graph = try KernelBenchmarkGraphs.attention(shape)
    let (compiled, reference, program) = try Self.compiledAndReference(graph, seed: seed)
    let error = relativeError(compiled, reference)
    #expect(error <= float32Tolerance, "\(shape.label): relative error \(error) (seed \(seed))")
    #expect(program.kernels.map(\.template) == ["attention"], "\(shape.label): \(program.kernels.map(\.template))")

    let feeds = randomFeeds(for: graph, seed: seed)
    let eager = try EagerBLASExecutor(graph: graph.optimized(), weights: [:], threads: 2)
    let eagerError = relativeError(Self.doubles(try eager.run(try Self.runtime(feeds.inputs))["o"]), reference)
    #expect(eagerError <= float32Tolerance, "\(shape.label) eager-blas: relative error \(eagerError) (seed \(seed))")
  }
}
