import Codegen
import Foundation

/// Turns measured cases into the report's sections: headlines, speedups, scaling, kernels.
enum ReportBuilder {
  static func modelSection(plan: BenchHarness.ModelPlan, results: [CaseResult], primaryProfile: String?) -> ModelSection {
    let maxThreads = results.map(\.threads).max() ?? 1
    let firstPolicy = results.compactMap(\.numa).first
    func isPrimary(_ result: CaseResult) -> Bool {
      (result.profile == nil || result.profile == primaryProfile) && (result.numa == nil || result.numa == firstPolicy)
    }
    var executors: [String: CaseResult] = [:]
    for result in results where isPrimary(result) && result.threads == maxThreads { executors[result.executor] = result }
    let compiled = executors[BenchExecutor.compiled.rawValue]
    func ratio(_ other: BenchExecutor) -> Double? {
      guard let compiled, let baseline = executors[other.rawValue], compiled.msPerStep > 0 else { return nil }
      return baseline.msPerStep / compiled.msPerStep
    }
    var scaling: [ThreadScaling] = []
    if maxThreads > 1 {
      for executor in BenchExecutor.allCases {
        let candidates = results.filter { $0.executor == executor.rawValue && isPrimary($0) }
        guard let one = candidates.first(where: { $0.threads == 1 }), let all = candidates.first(where: { $0.threads == maxThreads }) else {
          continue
        }
        scaling.append(ThreadScaling(executor: executor.rawValue, profile: one.profile, threads: maxThreads, oneThreadMs: one.msPerStep,
                                     allThreadsMs: all.msPerStep, speedup: all.msPerStep > 0 ? one.msPerStep / all.msPerStep : 0,
                                     trustworthy: one.trustworthy && all.trustworthy))
      }
    }
    var profiles: [String: CaseResult] = [:]
    for result in results where result.executor == BenchExecutor.compiled.rawValue && result.threads == maxThreads
      && (result.numa == nil || result.numa == firstPolicy)
    {
      if let profile = result.profile { profiles[profile] = result }
    }
    return ModelSection(
      name: plan.run.label, model: plan.run.model, config: plan.config, overrides: plan.run.overrides, family: plan.family,
      flops: plan.flops, compulsoryBytes: plan.compulsoryBytes,
      arithmeticIntensity: plan.compulsoryBytes > 0 ? Double(plan.flops) / Double(plan.compulsoryBytes) : 0,
      cases: results, executors: executors, speedup: Speedup(vsNaive: ratio(.naive), vsEagerBlas: ratio(.eagerBLAS)),
      threadScaling: scaling, profiles: profiles)
  }

  /// One row per kernel function: its instances' medians summed, in schedule order of first use.
  /// `samples[r][k]` is the seconds of `program.kernels[k]` in repetition `r`, taken in round `rounds[r]`.
  static func kernelRows(model: String, program: Program, samples: [[Double]], rounds: [Int], threads: Int, host: HostSection,
                         threshold: Double) -> [KernelRow] {
    guard !samples.isEmpty else { return [] }
    var order: [String] = []
    var members: [String: [Int]] = [:]
    for (index, kernel) in program.kernels.enumerated() {
      if members[kernel.function] == nil { order.append(kernel.function) }
      members[kernel.function, default: []].append(index)
    }
    let peak = host.peak(threads: threads)
    let ridge = host.ridge(threads: threads)
    return order.compactMap { function in
      guard let indices = members[function], let first = indices.first else { return nil }
      let kernel = program.kernels[first]
      let perRepetition = samples.map { run in indices.reduce(0.0) { $0 + (run.indices.contains($1) ? run[$1] : 0) } }
      guard let inRounds = RoundStatistics(perRepetition, rounds: rounds) else { return nil }
      let statistics = inRounds.all
      let totalFlops = Double(kernel.flops * indices.count)
      let gflops = statistics.median > 0 ? totalFlops / statistics.median / 1e9 : 0
      let intensity = kernel.bytes > 0 ? Double(kernel.flops) / Double(kernel.bytes) : 0
      return KernelRow(
        model: model, name: kernel.name, function: function, template: kernel.template, calls: indices.count, flops: kernel.flops,
        bytes: kernel.bytes, arithmeticIntensity: intensity, seconds: statistics.median, spread: statistics.spread,
        trustworthy: inRounds.isTrustworthy(threshold: threshold), noise: inRounds.noise, gflops: gflops,
        percentOfPeak: peak > 0 ? 100 * gflops / peak : 0, bound: intensity >= ridge ? "compute" : "memory", threads: threads,
        roundMedianSeconds: inRounds.roundMedians)
    }
  }
}
