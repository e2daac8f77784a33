import Codegen
import Foundation
import Runtime
import Tracer

/// One timed side of a kernel benchmark: a closure that runs the kernel once and returns the
/// seconds it took.
struct KernelSide {
  var name: String
  var run: () throws -> Double
}

extension CompiledExecutor {
  /// One run; the seconds spent inside the module (its kernels, from the per-kernel timer), without
  /// the copies of inputs into the arena and of outputs out of it that `run` adds around it.
  func moduleSeconds(_ inputs: [String: RuntimeTensor]) throws -> Double {
    _ = try run(inputs)
    guard let kernels = lastKernelSeconds else {
      throw BenchError.caseFailed(program.name, "the module recorded no kernel times (timing is not enabled)")
    }
    return kernels.reduce(0, +)
  }
}

extension BenchHarness {
  /// One kernel benchmark case: a shape at a team size.
  enum KernelCase {
    case gemm(GemmBenchmarkShape, threads: Int)
    case attention(AttentionBenchmarkShape, threads: Int)

    var threads: Int {
      switch self {
      case .gemm(_, let threads), .attention(_, let threads): return threads
      }
    }
  }

  /// Every case of the suite's kernel benchmarks, shape by shape, each shape at every team size.
  func kernelCases(_ run: KernelBenchmarkRun) -> [KernelCase] {
    let teams = Array(Set(run.threads.map { $0.resolved(cpus: environment.topology.cpuCount) })).sorted()
    return run.gemm.flatMap { shape in teams.map { KernelCase.gemm(shape, threads: $0) } }
      + run.attention.flatMap { shape in teams.map { KernelCase.attention(shape, threads: $0) } }
  }

  /// A first guess from the FLOPs: Kiln near 80 % of peak, OpenBLAS 80 %, eager attention 20 %,
  /// each side run warm-ups + repetitions + one parity run, plus a build.
  func estimateSeconds(_ kernelCase: KernelCase, run: KernelBenchmarkRun, host: HostSection) -> Double {
    let runs = Double(run.warmups + run.repetitions + 1)
    let peak = host.peak(threads: kernelCase.threads) * 1e9
    switch kernelCase {
    case .gemm(let shape, _):
      let sides = shape.epilogue == .none ? 2.0 : 3.0
      return sides * runs * Double(shape.flops) / (0.8 * peak) + 0.5
    case .attention(let shape, _):
      return runs * Double(shape.flops) * (1 / (0.5 * peak) + 1 / (0.2 * peak)) + 0.5
    }
  }

  func plannedKernelCases(_ suite: Suite, host: HostSection) -> [PlannedCase] {
    suite.kernelBenchmarkRuns.flatMap { run in
      kernelCases(run).map { kernelCase in
        let (label, sides, flops): (String, String, Int)
        switch kernelCase {
        case .gemm(let shape, _): (label, sides, flops) = ("gemm " + shape.spelled, "kiln+openblas", shape.flops)
        case .attention(let shape, _): (label, sides, flops) = ("attention \(shape.label) " + shape.spelled, "kiln+eager", shape.flops)
        }
        return PlannedCase(label: label, executor: sides, profile: run.profile, threads: kernelCase.threads, rounds: 1,
                           runs: run.warmups + run.repetitions + 1, gflop: Double(flops) / 1e9,
                           estimatedSeconds: estimateSeconds(kernelCase, run: run, host: host))
      }
    }
  }

  /// Measures a suite's kernel benchmarks (a suite has at most one such entry): for each shape
  /// and team, Kiln and its baseline built once, then warm-ups and repetitions taken alternately,
  /// one sample of each side per round, so that drift in the machine falls on every side alike.
  func measureKernelBenchmarks(_ suite: Suite, host: HostSection, clock: inout ETA, index: inout Int) throws -> KernelBenchmarkSection? {
    guard let run = suite.kernelBenchmarkRuns.first else { return nil }
    let profile = try HardwareProfile.named(run.profile, host: environment.host, store: environment.profileStore)
    if let missing = profile.canRun(on: environment.host) {
      throw BenchError.caseFailed(run.label, "profile \(run.profile) cannot run on this host, which lacks \(missing.joined(separator: ", "))")
    }
    let targets = KernelTargets()
    var gemmRows: [GemmBenchmarkRow] = []
    var attentionRows: [AttentionBenchmarkRow] = []
    for kernelCase in kernelCases(run) {
      let label: String
      switch kernelCase {
      case .gemm(let shape, _): label = "gemm " + shape.spelled
      case .attention(let shape, _): label = "attention \(shape.label), " + shape.spelled
      }
      progress(.caseStarted(index: index + 1, total: clock.total, round: 1, rounds: 1, label: run.label + ": " + label,
                            executor: kernelCase.isGemm ? "kiln vs openblas" : "kiln vs eager-blas", profile: profile.name,
                            threads: kernelCase.threads, etaSeconds: clock.remaining))
      let started = Date()
      let summary: String
      do {
        switch kernelCase {
        case .gemm(let shape, let threads):
          let row = try measureGemm(shape, threads: threads, run: run, profile: profile, host: host, targets: targets)
          gemmRows.append(row)
          summary = Self.summary(row)
        case .attention(let shape, let threads):
          let row = try measureAttention(shape, threads: threads, run: run, profile: profile, host: host, targets: targets)
          attentionRows.append(row)
          summary = Self.summary(row)
        }
      } catch let error as BenchError {
        throw error
      } catch {
        throw BenchError.caseFailed("\(run.label): \(label), \(kernelCase.threads) threads", "\(error)")
      }
      clock.finish(seconds: Date().timeIntervalSince(started))
      index += 1
      progress(.kernelMeasured(label: "\(label), \(kernelCase.threads)t", summary: summary))
    }
    return KernelBenchmarkSection(
      label: run.label, profile: profile.name, openBLAS: (try? OpenBLASLibrary.shared().summary) ?? "OpenBLAS not loadable",
      warmups: run.warmups, repetitions: run.repetitions, method: Self.kernelMethod, targets: targets, gemm: gemmRows,
      attention: attentionRows)
  }

  static let kernelMethod = [
    "Kiln: the shape's traced graph lowered with the `compiled` mode and run by `CompiledExecutor`; each sample is the time "
      + "inside the module (its per-kernel timer, summed), without the copies of inputs into the arena and of outputs out of it.",
    "GEMM baseline: one `cblas_sgemm` call (row-major A·Bᵀ, B the [N, K] weight) of the OpenBLAS the eager-blas executor loads, "
      + "on buffers allocated once, its threads pinned to the CPUs of Kiln's team for the call (where the library allows it); "
      + "the eager-blas executor makes exactly this call on the bare graph but allocates its result on every run.",
    "Attention baseline: the eager-blas executor on the same graph (q·kᵀ GEMMs, scale, softmax as separate ops, p·v GEMMs: "
      + "the scores materialized), each sample one whole run.",
    "FLOPs: GEMM 2·M·N·K (the epilogue's few FLOPs per output not counted); attention 4·B·H·Sq·Skv·D, the two GEMMs, "
      + "where GraphStatistics also counts the scale and the softmax (`graphFlops`). % of peak: of the one-core peak on 1 thread, "
      + "of the one-core peak × threads capped at the all-cores peak otherwise.",
    "Parity: Kiln's output against the baseline's, one untimed run of each (`parityError` in report.json, with every sample).",
  ]

  // MARK: GEMM

  func measureGemm(_ shape: GemmBenchmarkShape, threads: Int, run: KernelBenchmarkRun, profile: HardwareProfile,
                   host: HostSection, targets: KernelTargets) throws -> GemmBenchmarkRow {
    let bareGraph = try KernelBenchmarkGraphs.gemm(shape, epilogue: .none).optimized()
    let epilogueGraph = shape.epilogue == .none ? nil : try KernelBenchmarkGraphs.gemm(shape, epilogue: shape.epilogue).optimized()
    let name = "gemm-\(shape.m)x\(shape.n)x\(shape.k)"
    let weights = try SeededWeights.initialize(for: epilogueGraph ?? bareGraph, seed: 0)
    let bareInputs = try SeededInputs.make(for: bareGraph, seed: 0, timestep: 0)
    let bare = try kilnExecutor(bareGraph, name: name, profile: profile, weights: weights, threads: threads)
    let withEpilogue = try epilogueGraph.map { graph in
      (executor: try kilnExecutor(graph, name: name + "-" + shape.epilogue.rawValue, profile: profile, weights: weights, threads: threads),
       inputs: try SeededInputs.make(for: graph, seed: 0, timestep: 0))
    }
    guard let x = bareInputs["x"]?.floats, let weight = weights["weight"]?.floats else {
      throw BenchError.caseFailed(name, "the GEMM graph has no input 'x' or weight 'weight'")
    }
    // On Kiln's CPUs, so that other work on a core slows both sides alike (Kiln's team is pinned).
    let openBLAS = try OpenBLASGemm(a: x, weight: weight, m: shape.m, n: shape.n, k: shape.k, threads: threads,
                                    pinnedTo: bare.plan.cpuOfThread)

    // Parity first (untimed): Kiln's bare product against OpenBLAS's.
    _ = openBLAS.run()
    let parity = Self.relativeError(try bare.run(bareInputs)["y"]?.floats ?? [], openBLAS.result)

    var sides = [KernelSide(name: "kiln", run: { try bare.moduleSeconds(bareInputs) }),
                 KernelSide(name: "openblas", run: { openBLAS.run() })]
    if let withEpilogue { sides.insert(KernelSide(name: "kiln+epilogue", run: { try withEpilogue.executor.moduleSeconds(withEpilogue.inputs) }), at: 0) }
    let samples = try Self.interleave(sides, warmups: run.warmups, repetitions: run.repetitions)

    let peak = host.peak(threads: threads)
    func figure(_ side: String) throws -> KernelFigure {
      guard let figure = KernelFigure(seconds: samples[side] ?? [], flops: shape.flops, peak: peak, threshold: environment.spreadThreshold) else {
        throw BenchError.caseFailed(name, "no samples of \(side)")
      }
      return figure
    }
    let kiln = try figure("kiln")
    let blas = try figure("openblas")
    let epilogueFigure = withEpilogue == nil ? nil : try figure("kiln+epilogue")
    let headline = epilogueFigure ?? kiln
    let versus = kiln.msMedian > 0 ? blas.msMedian / kiln.msMedian : 0
    return GemmBenchmarkRow(
      m: shape.m, n: shape.n, k: shape.k, batch: shape.batch, epilogue: shape.epilogue.rawValue, threads: threads, flops: shape.flops,
      peakGflops: peak, kilnEpilogue: epilogueFigure, kilnEpilogueKernels: withEpilogue.map { $0.executor.program.kernels.map(\.template) },
      kiln: kiln, openBLAS: blas, openBLASPinned: openBLAS.ranPinned, kilnVsOpenBLAS: versus,
      kilnEpilogueVsOpenBLAS: epilogueFigure.map { $0.msMedian > 0 ? blas.msMedian / $0.msMedian : 0 },
      meetsPeakTarget: headline.percentOfPeak >= targets.gemmPercentOfPeak(threads: threads),
      meetsOpenBLASTarget: versus >= targets.gemmVsOpenBLAS, parityError: parity)
  }

  // MARK: Attention

  func measureAttention(_ shape: AttentionBenchmarkShape, threads: Int, run: KernelBenchmarkRun, profile: HardwareProfile,
                        host: HostSection, targets: KernelTargets) throws -> AttentionBenchmarkRow {
    let graph = try KernelBenchmarkGraphs.attention(shape).optimized()
    let name = "attention-b\(shape.batch)h\(shape.heads)s\(shape.queries)x\(shape.keys)d\(shape.headDim)"
    let inputs = try SeededInputs.make(for: graph, seed: 0, timestep: 0)
    let kiln = try kilnExecutor(graph, name: name, profile: profile, weights: [:], threads: threads)
    let eager = try EagerBLASExecutor(graph: graph, weights: [:], threads: threads)
    let parity = Self.relativeError(try kiln.run(inputs)["o"]?.floats ?? [], try eager.run(inputs)["o"]?.floats ?? [])
    let samples = try Self.interleave([
      KernelSide(name: "kiln", run: { try kiln.moduleSeconds(inputs) }),
      KernelSide(name: "eager-blas", run: {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try eager.run(inputs)
        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
      }),
    ], warmups: run.warmups, repetitions: run.repetitions)
    let peak = host.peak(threads: threads)
    func figure(_ side: String) throws -> KernelFigure {
      guard let figure = KernelFigure(seconds: samples[side] ?? [], flops: shape.flops, peak: peak, threshold: environment.spreadThreshold) else {
        throw BenchError.caseFailed(name, "no samples of \(side)")
      }
      return figure
    }
    let kilnFigure = try figure("kiln")
    let eagerFigure = try figure("eager-blas")
    let speedup = kilnFigure.msMedian > 0 ? eagerFigure.msMedian / kilnFigure.msMedian : 0
    return AttentionBenchmarkRow(
      label: shape.label, batch: shape.batch, heads: shape.heads, queries: shape.queries, keys: shape.keys, headDim: shape.headDim,
      threads: threads, flops: shape.flops, graphFlops: GraphStatistics(graph).flops, peakGflops: peak, kiln: kilnFigure,
      kilnKernels: kiln.program.kernels.map(\.template), eagerBLAS: eagerFigure, speedupVsEager: speedup,
      meetsPeakTarget: kilnFigure.percentOfPeak >= targets.attentionPercentOfPeak, meetsEagerTarget: speedup >= targets.attentionVsEager,
      parityError: parity)
  }

  // MARK: Shared

  /// The compiled executor of `graph` with its kernel timer on.
  func kilnExecutor(_ graph: Graph, name: String, profile: HardwareProfile, weights: [String: RuntimeTensor],
                    threads: Int) throws -> CompiledExecutor {
    let program = try Lowering.lower(graph: graph, profile: profile, mode: .compiled, name: name)
    let executor = try CompiledExecutor(program: program, weights: weights, threads: threads, policy: .local,
                                        topology: environment.topology, cache: environment.cache)
    try executor.enableKernelTiming()
    return executor
  }

  /// Warm-up rounds, then timed rounds; each round runs every side once, in order.
  static func interleave(_ sides: [KernelSide], warmups: Int, repetitions: Int) throws -> [String: [Double]] {
    for _ in 0..<warmups { for side in sides { _ = try side.run() } }
    var samples: [String: [Double]] = [:]
    for _ in 0..<repetitions { for side in sides { samples[side.name, default: []].append(try side.run()) } }
    return samples
  }

  /// ‖a − b‖₂ / ‖b‖₂ (infinite when the sizes differ).
  static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count, !a.isEmpty else { return .infinity }
    var (difference, norm) = (0.0, 0.0)
    for (x, y) in zip(a, b) {
      difference += Double(x - y) * Double(x - y)
      norm += Double(y) * Double(y)
    }
    return norm > 0 ? (difference / norm).squareRoot() : difference.squareRoot()
  }

  static func summary(_ row: GemmBenchmarkRow) -> String {
    var text = ""
    if let epilogue = row.kilnEpilogue { text += String(format: "kiln+%@ %.1f GFLOP/s (%.1f %%), ", row.epilogue, epilogue.gflops, epilogue.percentOfPeak) }
    text += String(format: "kiln %.1f (%.1f %%), openblas %.1f (%.1f %%): kiln/openblas %.2f×", row.kiln.gflops, row.kiln.percentOfPeak,
                   row.openBLAS.gflops, row.openBLAS.percentOfPeak, row.kilnVsOpenBLAS)
    return text
  }

  static func summary(_ row: AttentionBenchmarkRow) -> String {
    String(format: "kiln %.1f GFLOP/s (%.1f %%), eager-blas %.1f (%.1f %%): %.2f×", row.kiln.gflops, row.kiln.percentOfPeak,
           row.eagerBLAS.gflops, row.eagerBLAS.percentOfPeak, row.speedupVsEager)
  }
}

extension BenchHarness.KernelCase {
  var isGemm: Bool { if case .gemm = self { return true } else { return false } }
}
