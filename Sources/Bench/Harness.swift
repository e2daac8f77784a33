import Codegen
import Foundation
import Models
import Runtime
import Tracer

/// What a generation entry gathered over its rounds.
struct GenerationLedger {
  var samples: [GenerationFigures] = []
  var rounds: [Int] = []
  var warmedUp = false
}

/// What a generation entry asks for, resolved on this machine.
public struct GenerationRequest: Sendable {
  public var run: GenerationRun
  public var threads: Int
  public var profile: HardwareProfile
}

/// Runs one end-to-end generation (denoising loop + VAE decode) and returns its figures. The
/// build that has a generation pipeline passes one to `BenchHarness`; without one, a suite's
/// generation entries are refused before anything runs.
public typealias GenerationRunner = (GenerationRequest) throws -> GenerationFigures

/// Where the bench is: announced to the progress callback as it goes.
public enum BenchProgress: Sendable {
  case note(String)
  /// Visit `index` of `total` (a case in round `round` of `rounds`) starts; `etaSeconds` is the
  /// estimate for everything left, this visit included.
  case caseStarted(index: Int, total: Int, round: Int, rounds: Int, label: String, executor: String, profile: String?, threads: Int,
                   etaSeconds: Double)
  /// A visit ended: this round's median, and the median and noise of the case's rounds so far.
  case caseFinished(index: Int, total: Int, round: Int, rounds: Int, label: String, executor: String, roundMilliseconds: Double,
                    milliseconds: Double, noise: Double, trustworthy: Bool)
  /// A peer runtime on model `label`: loaded (version, parity against compiled) or measured.
  case peer(label: String, peer: String, message: String)
  /// A kernel benchmark case measured: Kiln and its baseline in one line.
  case kernelMeasured(label: String, summary: String)
}

/// The machine the bench runs on and the settings every case shares.
public struct BenchEnvironment {
  public var topology: Topology
  public var host: HostInfo
  public var hostName: String
  public var spreadThreshold: Double
  public var profileStore: ProfileStore
  public var cache: ModuleCache?
  public var ceilingMeasurement: CeilingMeasurement
  public var generation: GenerationRunner?
  /// Where ONNX Runtime and OpenVINO are (`make peers`); nil runs a suite's peers-naming models without them.
  public var peers: PeerEnvironment?

  public init(topology: Topology, host: HostInfo, hostName: String = ProcessInfo.processInfo.hostName,
              spreadThreshold: Double = SampleStatistics.defaultSpreadThreshold, profileStore: ProfileStore = ProfileStore(),
              cache: ModuleCache? = nil, ceilingMeasurement: CeilingMeasurement = CeilingMeasurement(), generation: GenerationRunner? = nil,
              peers: PeerEnvironment? = try? PeerEnvironment.locate()) {
    self.topology = topology
    self.host = host
    self.hostName = hostName
    self.spreadThreshold = spreadThreshold
    self.profileStore = profileStore
    self.cache = cache
    self.ceilingMeasurement = ceilingMeasurement
    self.generation = generation
    self.peers = peers
  }

  public static func current(generation: GenerationRunner? = BenchEnvironment.pipelineGeneration) throws -> BenchEnvironment {
    BenchEnvironment(topology: try Topology.current(), host: try HostDetection.current(), generation: generation)
  }
}

/// Runs a suite: every case in each of the suite's rounds (`SuiteRounds.swift`), every sample kept.
public struct BenchHarness {
  public var environment: BenchEnvironment
  public var progress: (BenchProgress) -> Void

  public init(environment: BenchEnvironment, progress: @escaping (BenchProgress) -> Void = { _ in }) {
    self.environment = environment
    self.progress = progress
  }

  /// Families whose timestep input is a flow-matching time in [0, 1] rather than a DDPM step.
  static let flowMatchingFamilies: Set<String> = ["mmdit", "video-dit"]

  public func run(_ suite: Suite) throws -> BenchReport {
    let started = Date()
    try refuseUnavailableGeneration(suite)
    var notes: [String] = []
    let primaryProfileName = suite.modelRuns.first?.profiles.first ?? suite.generationRuns.first?.profile
      ?? suite.kernelBenchmarkRuns.first?.profile ?? HardwareProfile.nativeName
    let (host, hostNotes) = try hostSection(primaryProfile: primaryProfileName)
    notes += hostNotes
    hostNotes.forEach { progress(.note($0)) }

    let (plans, planNotes) = try plan(suite)
    notes += planNotes
    planNotes.forEach { progress(.note($0)) }
    if let note = Self.missingPeersNote(suite, environment: environment.peers) {
      notes.append(note)
      progress(.note(note))
    }
    // Generation and compile entries take their share of each round after the round's model cases.
    let rounds = max(1, suite.rounds)
    var generationLedgers = Array(repeating: GenerationLedger(), count: suite.generationRuns.count)
    var compileLedgers = Array(repeating: CompileLedger(), count: suite.compileRuns.count)
    let (models, kernels) = try measureInRounds(plans, rounds: rounds, host: host) { round in
      for (index, run) in suite.generationRuns.enumerated() {
        try measureGeneration(run, round: round, rounds: rounds, ledger: &generationLedgers[index])
      }
      for (index, run) in suite.compileRuns.enumerated() {
        try measureCompile(run, round: round, rounds: rounds, ledger: &compileLedgers[index])
      }
    }
    var kernelClock = ETA(estimates: plannedKernelCases(suite, host: host).map(\.estimatedSeconds))
    var kernelIndex = 0

    let kernelBenchmarks = try measureKernelBenchmarks(suite, host: host, clock: &kernelClock, index: &kernelIndex)
    let generationRows = zip(suite.generationRuns, generationLedgers).compactMap {
      generationRow($0, ledger: $1, threshold: environment.spreadThreshold)
    }
    let compileRows = zip(suite.compileRuns, compileLedgers).compactMap {
      Self.compileRow($0, ledger: $1, threshold: environment.spreadThreshold)
    }
    notes += Self.ceilingWarnings(models: models, kernels: kernels, host: host)
    let formatter = ISO8601DateFormatter()
    var report = BenchReport(
      suite: SuiteSummary(name: suite.name, file: suite.file, description: suite.description, rounds: suite.rounds),
      createdAt: formatter.string(from: started), durationSeconds: Date().timeIntervalSince(started),
      spreadThreshold: environment.spreadThreshold, host: host, models: models, kernels: kernels,
      generation: GenerationSection(available: environment.generation != nil, rows: generationRows), notes: notes,
      kernelBenchmarks: kernelBenchmarks, compile: compileRows.isEmpty ? nil : compileRows)
    report.applyNoiseFloors()
    return report
  }

  /// One planned case and the first guess at its seconds (warm-ups, repetitions and kernel-timing runs).
  public struct PlannedCase: Sendable {
    public var label: String
    public var executor: String
    public var profile: String?
    public var threads: Int
    /// The rounds that visit the case (each builds it again and warms it up).
    public var rounds: Int
    /// Every run over those rounds: warm-ups in each, the repetitions, the kernel-timing runs.
    public var runs: Int
    public var gflop: Double
    public var estimatedSeconds: Double
  }

  /// Every case the suite would run, with a guess at its time from the FLOPs and the host's
  /// ceilings; nothing is built or timed. Compile time on a cold cache is not included.
  public func plannedCases(_ suite: Suite) throws -> (host: HostSection, cases: [PlannedCase], notes: [String]) {
    let primary = suite.modelRuns.first?.profiles.first ?? suite.kernelBenchmarkRuns.first?.profile ?? HardwareProfile.nativeName
    let (host, hostNotes) = try hostSection(primaryProfile: primary)
    let (plans, planNotes) = try plan(suite)
    let cases = plans.flatMap { plan in
      plan.cases.map { benchCase in
        let rounds = max(1, suite.rounds)
        let shares = (1...rounds).map { RoundSchedule.share(of: benchCase.repetitions, rounds: rounds, round: $0) }.filter { $0 > 0 }
        return PlannedCase(
          label: plan.run.label, executor: benchCase.executor.rawValue, profile: benchCase.profile?.name, threads: benchCase.threads,
          rounds: shares.count, runs: shares.reduce(0) { $0 + Self.runs(benchCase, repetitions: $1) }, gflop: Double(plan.flops) / 1e9,
          estimatedSeconds: shares.reduce(0) { $0 + estimateSeconds(benchCase, plan: plan, host: host, repetitions: $1) })
      }
    }
    return (host, cases + plannedKernelCases(suite, host: host), hostNotes + planNotes)
  }

  /// Generation entries fail before anything runs when this build has no pipeline for them.
  func refuseUnavailableGeneration(_ suite: Suite) throws {
    guard environment.generation == nil else { return }
    for (index, entry) in suite.entries.enumerated() {
      if case .generation(let run) = entry {
        throw BenchError.generationUnavailable(file: suite.file, field: "runs[\(index)].generation", label: run.label)
      }
    }
  }

  /// This round's share of a generation entry's samples; before the first, its warm-ups (one
  /// denoising step each: enough to compile every module of the pipeline into the cache).
  func measureGeneration(_ run: GenerationRun, round: Int, rounds: Int, ledger: inout GenerationLedger) throws {
    let share = RoundSchedule.share(of: run.repetitions, rounds: rounds, round: round)
    guard share > 0 else { return }
    guard let runner = environment.generation else {
      throw BenchError.generationUnavailable(file: "suite", field: "generation", label: run.label)
    }
    let threads = run.threads.resolved(cpus: environment.topology.cpuCount)
    let profile = try HardwareProfile.named(run.profile, host: environment.host)
    progress(.note("generation: \(run.label), round \(round)/\(rounds), \(run.steps) steps, \(run.executor.rawValue), \(threads) threads"))
    if !ledger.warmedUp {
      var warmup = run
      warmup.steps = 1
      for _ in 0..<run.warmups { _ = try runner(GenerationRequest(run: warmup, threads: threads, profile: profile)) }
      ledger.warmedUp = true
    }
    for _ in 0..<share {
      ledger.samples.append(try runner(GenerationRequest(run: run, threads: threads, profile: profile)))
      ledger.rounds.append(round)
    }
  }

  /// The row of a generation entry: the sample with the median total, every sample, the noise of the total.
  func generationRow(_ run: GenerationRun, ledger: GenerationLedger, threshold: Double) -> GenerationRow? {
    guard let statistics = RoundStatistics(ledger.samples.map(\.totalSeconds), rounds: ledger.rounds) else { return nil }
    let median = ledger.samples.sorted { $0.totalSeconds < $1.totalSeconds }[ledger.samples.count / 2]
    var row = GenerationRow(name: run.label, model: run.model, executor: run.executor.rawValue, profile: run.profile,
                            threads: run.threads.resolved(cpus: environment.topology.cpuCount), median: median, samples: ledger.samples,
                            spread: statistics.all.spread, trustworthy: statistics.isTrustworthy(threshold: threshold))
    row.sampleRounds = ledger.rounds
    row.roundMediansSeconds = statistics.roundMedians
    row.noise = statistics.noise
    row.warmups = run.warmups
    row.targetSeconds = run.targetSeconds
    row.meetsTarget = run.targetSeconds.map { median.totalSeconds <= $0 }
    return row
  }

  // MARK: Host and ceilings

  /// A figure above its ceiling means the ceilings were measured low (often on a busy machine).
  static func ceilingWarnings(models: [ModelSection], kernels: [KernelRow], host: HostSection) -> [String] {
    let overKernels = kernels.filter { $0.percentOfPeak > 100 }
    let overModels = models.flatMap { model in model.cases.filter { $0.gflops > host.peak(threads: $0.threads) }.map { "\(model.name) \($0.executor) \($0.threads)t" } }
    guard !overKernels.isEmpty || !overModels.isEmpty else { return [] }
    let names = overKernels.map { "\($0.model) \($0.name)" } + overModels
    return ["\(names.count) figure\(names.count == 1 ? "" : "s") above the measured compute ceiling (\(names.prefix(4).joined(separator: ", "))\(names.count > 4 ? ", …" : "")): "
      + "the ceilings (\(host.ceilingsMeasuredAt)) are too low; measure them again on a quiet machine with `kiln profile \(host.profile) --measure`"]
  }

  func hostSection(primaryProfile name: String) throws -> (HostSection, [String]) {
    var profile = try HardwareProfile.named(name, host: environment.host, store: environment.profileStore)
    var notes: [String] = []
    var source = "stored"
    if profile.ceilings == nil {
      notes.append("no measured ceilings stored for profile '\(name)': measuring them now (about 2 s), as `kiln profile \(name) --measure` does")
      profile = try profile.measuringCeilings(on: environment.host, with: environment.ceilingMeasurement,
                                              cache: try environment.cache ?? ModuleCache(), store: environment.profileStore)
      source = "measured for this report"
    }
    guard let ceilings = profile.ceilings else { throw BenchError.caseFailed("host", "profile '\(name)' has no ceilings after measuring") }
    let compiler = (try? CCompiler.locate().identity().version) ?? "unknown C compiler"
    let blas = (try? OpenBLASLibrary.shared().summary) ?? "OpenBLAS not loadable"
    let host = HostSection(
      name: environment.hostName, cpu: profile.cpuModel ?? environment.host.modelName, profile: profile.name, profileBasedOn: profile.basedOn,
      cores: environment.topology.cpuCount, numaNodes: environment.topology.nodes.count,
      peakGflops: PeakGflops(oneCore: ceilings.peakGFLOPSOneCore, allCores: ceilings.peakGFLOPSAllCores),
      bandwidthGBs: ceilings.memoryBandwidthGBps, ceilingsMeasuredAt: ceilings.measuredAt, ceilingsSource: source,
      compiler: compiler, cFlags: [CCompiler.Optimization.o3.rawValue] + profile.cFlags, openBLAS: blas)
    return (host, notes)
  }

  // MARK: Planning

  struct BenchCase {
    var executor: BenchExecutor
    var profile: HardwareProfile?
    var threads: Int
    var numa: NUMAPolicy?
    var warmups: Int
    var repetitions: Int
    var recordsKernels: Bool
    /// The first profile and NUMA policy, the largest team: the case the peers are sampled beside.
    var isHeadline: Bool = false
  }

  struct ModelPlan {
    var run: ModelRun
    var family: String
    var config: String
    var graph: Graph
    var flops: Int
    var compulsoryBytes: Int
    var cases: [BenchCase]
  }

  /// Traces every model and lists every case before anything is timed, so a bad `set` or a
  /// profile this host cannot run shows up at once, not after an hour.
  func plan(_ suite: Suite) throws -> ([ModelPlan], [String]) {
    var notes: [String] = []
    var plans: [ModelPlan] = []
    let cpus = environment.topology.cpuCount
    for (index, entry) in suite.entries.enumerated() {
      guard case .model(let run) = entry else { continue }
      let (family, config) = try ModelRegistry.resolve(run.model, config: run.config)
      let graph: Graph
      do { graph = try family.trace(config: config, overrides: run.overrides).optimized() } catch {
        throw BenchError.malformedSuite(file: suite.file, field: "runs[\(index)]", "\(run.label): \(error)")
      }
      var profiles: [HardwareProfile] = []
      for name in run.profiles {
        let profile = try HardwareProfile.named(name, host: environment.host, store: environment.profileStore)
        if let missing = profile.canRun(on: environment.host) {
          let note = "\(run.label): profile \(name) skipped, this host lacks \(missing.joined(separator: ", "))"
          if !notes.contains(note) { notes.append(note) }
          continue
        }
        profiles.append(profile)
      }
      let threads = Array(Set(run.threads.map { $0.resolved(cpus: cpus) })).sorted()
      let policies = run.numa.compactMap(NUMAPolicy.init(rawValue:))
      var cases: [BenchCase] = []
      for executor in run.executors {
        let executorProfiles: [HardwareProfile?] = executor.usesProfile ? profiles : [nil]
        let executorPolicies: [NUMAPolicy?] = executor.usesProfile ? policies : [nil]
        for profile in executorProfiles where !executor.usesProfile || profile != nil {
          for policy in executorPolicies {
            for count in threads {
              let isHeadline = executor == .compiled && profile?.name == profiles.first?.name && count == threads.last
                && policy == policies.first
              cases.append(BenchCase(executor: executor, profile: profile, threads: count, numa: policy,
                                     warmups: run.warmups[executor], repetitions: run.repetitions[executor],
                                     recordsKernels: run.kernels && isHeadline, isHeadline: isHeadline))
            }
          }
        }
      }
      let statistics = GraphStatistics(graph)
      plans.append(ModelPlan(run: run, family: family.name, config: config, graph: graph, flops: statistics.flops,
                             compulsoryBytes: statistics.compulsoryBytes, cases: cases))
    }
    return (plans, notes)
  }

  /// The runs of one visit of a case taking `repetitions`: its warm-ups, the repetitions, and as
  /// many kernel-timing runs when it records kernels.
  static func runs(_ benchCase: BenchCase, repetitions: Int) -> Int {
    benchCase.warmups + repetitions + (benchCase.recordsKernels ? kernelTimingRuns(repetitions: repetitions) : 0)
  }

  /// Kernel-timing runs in one visit: as many as the step samples, and at least three, so that a
  /// kernel's within-round spread is measured even where a round takes one step sample.
  static func kernelTimingRuns(repetitions: Int) -> Int { Swift.max(repetitions, 3) }

  /// A first guess at the seconds of one visit of a case (one round's share of its repetitions)
  /// from its FLOPs and the measured peak, with rough efficiencies per executor (compiled ≈ 50 %
  /// of peak, eager-blas ≈ 30 %, naive ≈ 2 %); the ETA rescales every guess by how long the
  /// finished visits really took against their guesses.
  func estimateSeconds(_ benchCase: BenchCase, plan: ModelPlan, host: HostSection, repetitions: Int) -> Double {
    let efficiency: Double
    switch benchCase.executor {
    case .compiled: efficiency = 0.5
    case .eagerBLAS: efficiency = 0.3
    case .naive: efficiency = 0.02
    }
    let perRun = Double(plan.flops) / (host.peak(threads: benchCase.threads) * 1e9 * efficiency)
    return perRun * Double(Self.runs(benchCase, repetitions: repetitions)) + 0.2
  }

  // MARK: Peers

  /// Said once in the notes when a suite names peers that this machine does not have.
  static func missingPeersNote(_ suite: Suite, environment: PeerEnvironment?) -> String? {
    guard environment == nil else { return nil }
    let naming = suite.modelRuns.filter { !$0.peers.isEmpty }
    guard !naming.isEmpty else { return nil }
    let names = Set(naming.flatMap(\.peers)).sorted { $0.rawValue < $1.rawValue }.map(\.rawValue).joined(separator: ", ")
    return "peers (\(names)) named by \(naming.count) model\(naming.count == 1 ? "" : "s") were not run: \(PeerEnvironment.missing.description)"
  }

  static func measuredSummary(_ row: PeerRow) -> String {
    if let error = row.error, row.msPerStep == nil { return "not measured: \(error)" }
    guard let median = row.msPerStep else { return "not measured" }
    var text = String(format: "%.3f ms/step, noise %.1f%%", median, 100 * (row.noise ?? row.spread ?? 0)) + (row.trustworthy ? "" : " ⚠ not trustworthy")
    if let speedup = row.compiledSpeedup {
      text += String(format: "; compiled %.3f ms → %.2f× %@", row.compiledMs ?? .nan, speedup, speedup >= 1 ? "faster" : "(slower)")
    } else {
      text += "; not used in ratios (parity " + (row.parityPassed ? "passed" : "failed or unchecked") + ")"
    }
    return text
  }
}

/// Remaining time: the first guesses, rescaled by how the finished cases compared with theirs.
struct ETA {
  var estimates: [Double]
  var finished = 0
  var spentSeconds = 0.0

  var total: Int { estimates.count }

  /// Before the first case finishes, the unscaled guesses (which know nothing of compile times).
  var remaining: Double {
    guard finished > 0 else { return estimates.reduce(0, +) }
    let guessedSoFar = estimates[..<finished].reduce(0, +)
    let scale = guessedSoFar > 0 ? spentSeconds / guessedSoFar : 1
    return estimates[finished...].reduce(0, +) * scale
  }

  mutating func finish(seconds: Double) {
    spentSeconds += seconds
    finished = Swift.min(finished + 1, estimates.count)
  }
}
