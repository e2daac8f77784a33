import Codegen
import Foundation
import KilnTestSupport
import Models
import Runtime
import Testing
import Tracer

/// Every kernel family, lowered from a traced graph and run by the compiled executor on every
/// profile this host can run, against the Double reference interpreter: relative error within
/// 1e-4 on fresh random inputs with awkward sizes.
@Suite struct CompiledAgainstReferenceTests {
  /// The built-in profiles this host can run (generic, AVX2 and AVX-512 on the reference machine).
  static let runnableProfiles: [String] = {
    guard let host = try? HostDetection.current() else { return [] }
    return ((try? HardwareProfile.builtins()) ?? []).filter { $0.canRun(on: host) == nil }.map(\.name)
  }()

  /// One graph exercising every template family at sizes no tile divides: GEMM with each
  /// epilogue (batch 3 × 7 rows, K = 37 below KC, and K = 300 above it with a prime N = 131),
  /// attention (cross, S = 7 against L = 131, head dim 72, a mask; and self with S = 13), layer
  /// norm + modulation, RMS norm, group norm, convolutions (3×3 padded with bias, strided, 1×1,
  /// 3×3 after a 2× upsampling, with bias + SiLU + residual in the epilogue),
  /// a softmax over a middle axis, pointwise chains, upsampling.
  static func awkwardGraph() throws -> Graph {
    try Graph.trace { b in
      let x = b.input("x", [3, 7, 37])
      let h1 = gelu(b.linear("fc1", x, out: 19), approximation: .tanh)
      let h2 = silu(b.linear("fc2", x, out: 19))
      let h3 = gelu(b.linear("fc3", x, out: 19), approximation: .none)
      let conditioning = b.input("conditioning", [3, 2 * 37])
      let gate = conditioning.slice(axis: 1, 0..<19).unsqueeze(1)
      b.output("gemm_epilogues", h1 + gate * b.linear("proj", h2 + h3, out: 19))
      b.output("gemm_deep", b.linear("deep", b.input("y", [13, 300]), out: 131) * 0.5)

      let q = b.input("q", [3, 2, 7, 72])
      let k = b.input("k", [3, 2, 131, 72])
      let v = b.input("v", [3, 2, 131, 72])
      b.output("cross_attention", attention(q, k, v, mask: b.input("mask", [7, 131])))
      let tokens = b.input("tokens", [1, 13, 3 * 72])
      let heads = { (t: Tensor) in t.reshape([1, 13, 3, 72]).permute([0, 2, 1, 3]) }
      let selfAttended = attention(heads(b.linear("to_q", tokens, out: 216)), heads(b.linear("to_k", tokens, out: 216)),
                                   heads(b.linear("to_v", tokens, out: 216)))
      b.output("self_attention", b.linear("to_out", selfAttended.permute([0, 2, 1, 3]).reshape([1, 13, 216]), out: 216))

      let shift = conditioning.slice(axis: 1, 0..<37)
      let scale = conditioning.slice(axis: 1, 37..<74)
      b.output("layer_norm_modulated", modulate(layerNorm(x, eps: 1e-6), shift: shift, scale: scale))
      b.output("rms_norm", b.rmsNorm("rms", x))

      let image = b.input("image", [3, 8, 9, 11])
      let normalized = silu(b.groupNorm("norm", image, groups: 4))
      let convolved = b.conv2d("conv", normalized, out: 5, kernel: 3, padding: 1)
      b.output("conv_padded", convolved)
      b.output("conv_strided", b.conv2d("down", image, out: 6, kernel: 3, stride: 2))
      b.output("conv_pointwise", b.conv2d("mix", convolved.upsampleNearest(2), out: 7, kernel: 1))
      b.output("conv_upsampled", b.conv2d("up", image.upsampleNearest(2), out: 6, kernel: 3, padding: 1))
      b.output("conv_bias_silu_residual", silu(b.conv2d("res", image, out: 8, kernel: 3, padding: 1)) + image)
      b.output("softmax_middle_axis", softmax(b.input("logits", [3, 13, 5]), axis: 1))
    }
  }

  static func check(_ graph: Graph, profile profileName: String, mode: LoweringMode, seed: UInt64,
                    threads: Int = 2) throws -> Program {
    let profile = try HardwareProfile.named(profileName)
    let program = try Lowering.lower(graph: graph, profile: profile, mode: mode, name: "check")
    let feeds = randomFeeds(for: graph, seed: seed)
    let dtypes = leafDTypes(graph)
    let executor = try CompiledExecutor(program: program, weights: try runtimeTensors(feeds.params, dtypes: dtypes),
                                        threads: threads, cache: try sharedModuleCache.get())
    let outputs = try executor.run(try runtimeTensors(feeds.inputs, dtypes: dtypes))
    let reference = try ReferenceInterpreter.evaluate(graph, inputs: feeds.inputs, params: feeds.params)
    for (name, expected) in reference {
      let actual = try #require(outputs[name], "\(name) missing")
      let error = relativeError(try actual.host.values, expected.values)
      #expect(error <= float32Tolerance, "\(profileName) \(mode.rawValue) \(name): relative error \(error) (seed \(seed))")
    }
    return program
  }

  @Test(arguments: runnableProfiles)
  func everyKernelFamilyMatchesTheReferenceOnAwkwardSizes(profile: String) throws {
    let program = try Self.check(try Self.awkwardGraph(), profile: profile, mode: .compiled, seed: 0xA11CE)
    // The families were really used, not bypassed.
    let templates = Set(program.kernels.map(\.template))
    for family in ["gemm", "attention", "rownorm", "groupnorm", "conv2d", "softmax"] {
      #expect(templates.contains(family), "\(profile): no \(family) kernel in \(templates.sorted())")
    }
  }

  @Test func naiveLoweringMatchesTheReferenceOnAwkwardSizes() throws {
    _ = try Self.check(try Self.awkwardGraph(), profile: "generic", mode: .naive, seed: 0xBEEF, threads: 2)
  }

  @Test(arguments: runnableProfiles)
  func everyModelsTinyConfigMatchesTheReference(profile: String) throws {
    for family in ModelRegistry.families {
      _ = try Self.check(try family.trace(config: "tiny"), profile: profile, mode: .compiled, seed: 7)
    }
  }

  @Test func everyModelsTinyConfigMatchesTheReferenceNaively() throws {
    for family in ModelRegistry.families {
      _ = try Self.check(try family.trace(config: "tiny"), profile: "generic", mode: .naive, seed: 11)
    }
  }
}

extension MachineTests.CompiledExecutorTests {
  /// The same with a real model's program: DiT's tiny config, lowered, its weights packed and its
  /// team started and joined a hundred times.
  @Test func aHundredCyclesOfASmallModelLeaveMemoryAndThreadsWhereTheyWere() throws {
    let graph = try ModelRegistry.family(named: "dit")!.trace(config: "tiny")
    let program = try Lowering.lower(graph: graph, profile: try HardwareProfile.named("native"), mode: .compiled,
                                     name: "dit-tiny-cycles")
    let feeds = randomFeeds(for: graph, seed: 5)
    let dtypes = leafDTypes(graph)
    let weights = try runtimeTensors(feeds.params, dtypes: dtypes)
    let inputs = try runtimeTensors(feeds.inputs, dtypes: dtypes)
    let cache = try sharedModuleCache.get()
    let threads = try Self.threads(2)
    func cycle() throws {
      let executor = try CompiledExecutor(program: program, weights: weights, threads: threads, cache: cache)
      _ = try executor.run(inputs)
    }
    try cycle()
    try cycle()
    let residentBefore = try ProcessStatus.residentKiB
    for _ in 0..<100 { try cycle() }
    let residentAfter = try ProcessStatus.residentKiB
    #expect(try ProcessStatus.threadNames.filter { $0.hasPrefix(ThreadTeam.threadNamePrefix) }.isEmpty)
    #expect(residentAfter - residentBefore < 4 << 10, "VmRSS: \(residentBefore) kB → \(residentAfter) kB")
  }
}
