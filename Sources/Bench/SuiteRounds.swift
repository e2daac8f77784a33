import Codegen
import Foundation
import Runtime

/// The model cases of a suite, measured in rounds: round after round, every model of the suite and
/// each of its cases, each case taking its share of its repetitions (`RoundSchedule`). A visit
/// builds the case's executor again (the module from the kernel cache, the weights seeded, so the
/// same every time), warms it up, takes its samples and lets the executor go, so memory holds one
/// executor at a time, as it did when each case ran once.
extension BenchHarness {
  /// One case of a model in one round, with the repetitions that round takes.
  struct Visit: Equatable, Sendable {
    var plan: Int
    var benchCase: Int
    var round: Int
    var repetitions: Int
  }

  /// Every visit of a run in order: round by round, in each round the models in suite order and
  /// their cases in plan order; a case with no repetitions left for a round is not visited in it.
  static func visits(_ plans: [ModelPlan], rounds: Int) -> [Visit] {
    var visits: [Visit] = []
    for round in 1...Swift.max(1, rounds) {
      for (p, plan) in plans.enumerated() {
        for (c, benchCase) in plan.cases.enumerated() {
          let share = RoundSchedule.share(of: benchCase.repetitions, rounds: rounds, round: round)
          if share > 0 { visits.append(Visit(plan: p, benchCase: c, round: round, repetitions: share)) }
        }
      }
    }
    return visits
  }

  /// What one case gathered over its rounds.
  struct CaseLedger {
    /// Seconds per step, and the round each was taken in.
    var samples: [Double] = []
    var rounds: [Int] = []
    /// Per-kernel seconds of each kernel-timing run, and its round.
    var kernelSeconds: [[Double]] = []
    var kernelRounds: [Int] = []
    /// The first visit's build (a compile on a cold cache; the later ones are cache hits).
    var buildSeconds: Double?
    var memory: MemoryFigures?
    /// Lowered on the first visit, kept for the rounds after.
    var program: Program?

    func result(_ benchCase: BenchCase, flops: Int, threshold: Double) -> CaseResult {
      let statistics = RoundStatistics(samples, rounds: rounds)?.scaled(by: 1e3)
      let median = statistics?.all.median ?? .nan
      var result = CaseResult(
        executor: benchCase.executor.rawValue, profile: benchCase.profile?.name, threads: benchCase.threads, numa: benchCase.numa?.rawValue,
        warmups: benchCase.warmups, repetitions: benchCase.repetitions, msPerStep: median, minMs: statistics?.all.min ?? .nan,
        maxMs: statistics?.all.max ?? .nan, spread: statistics?.all.spread ?? 0,
        trustworthy: statistics?.isTrustworthy(threshold: threshold) ?? false, samplesMs: statistics?.all.samples ?? [],
        gflops: median > 0 ? Double(flops) / (median * 1e-3) / 1e9 : 0, buildSeconds: buildSeconds ?? 0)
      result.sampleRounds = rounds
      result.roundMediansMs = statistics?.roundMedians ?? []
      result.withinRoundSpread = statistics?.withinRoundSpread ?? 0
      result.betweenRoundDrift = statistics?.betweenRoundDrift
      result.noise = statistics?.noise ?? 0
      result.memory = memory
      return result
    }
  }

  /// What one model gathered over its rounds: its cases, its peers, their ONNX export.
  struct ModelLedger {
    var cases: [CaseLedger]
    var peers: PeerLedger?
    /// Exported on the headline's first visit, removed after its last.
    var export: PeerExport?
  }

  /// Measures every model case of `plans` in `rounds` rounds; the model sections and kernel rows.
  /// `endOfRound` runs after each round's model cases (a round without any included).
  func measureInRounds(_ plans: [ModelPlan], rounds: Int, host: HostSection,
                       endOfRound: (Int) throws -> Void = { _ in }) throws -> (models: [ModelSection], kernels: [KernelRow]) {
    let visits = Self.visits(plans, rounds: rounds)
    var clock = ETA(estimates: visits.map {
      estimateSeconds(plans[$0.plan].cases[$0.benchCase], plan: plans[$0.plan], host: host, repetitions: $0.repetitions)
    })
    var ledgers = plans.map { ModelLedger(cases: Array(repeating: CaseLedger(), count: $0.cases.count)) }
    var start = 0
    var roundsFinished = 0
    while start < visits.count {
      // The visits of one model in one round share its seeded weights and inputs.
      let (round, p) = (visits[start].round, visits[start].plan)
      while roundsFinished < round - 1 {
        roundsFinished += 1
        try endOfRound(roundsFinished)
      }
      let end = visits[start...].firstIndex { $0.round != round || $0.plan != p } ?? visits.count
      let plan = plans[p]
      let weights = try SeededWeights.initialize(for: plan.graph, seed: 0)
      let inputs = try SeededInputs.make(for: plan.graph, seed: 0, timestep: Self.flowMatchingFamilies.contains(plan.family) ? 0.5 : 500)
      for (offset, visit) in visits[start..<end].enumerated() {
        let index = start + offset
        let benchCase = plan.cases[visit.benchCase]
        progress(.caseStarted(index: index + 1, total: clock.total, round: round, rounds: rounds, label: plan.run.label,
                              executor: benchCase.executor.rawValue, profile: benchCase.profile?.name, threads: benchCase.threads,
                              etaSeconds: clock.remaining))
        let visitStart = Date()
        do { try measure(visit, plan: plan, rounds: rounds, ledger: &ledgers[p], weights: weights, inputs: inputs) } catch {
          throw BenchError.caseFailed("\(plan.run.label) \(benchCase.executor.rawValue)", "\(error)")
        }
        clock.finish(seconds: Date().timeIntervalSince(visitStart))
        let ledger = ledgers[p].cases[visit.benchCase]
        let sofar = ledger.result(benchCase, flops: plan.flops, threshold: environment.spreadThreshold)
        let thisRound = SampleStatistics(zip(ledger.rounds, ledger.samples).filter { $0.0 == round }.map { $0.1 * 1e3 })
        progress(.caseFinished(index: index + 1, total: clock.total, round: round, rounds: rounds, label: plan.run.label,
                               executor: sofar.executor, roundMilliseconds: thisRound?.median ?? .nan, milliseconds: sofar.msPerStep,
                               noise: sofar.noise ?? 0, trustworthy: sofar.trustworthy))
        if benchCase.isHeadline, let peers = ledgers[p].peers {
          for row in peers.rows(compiledSamplesMs: sofar.samplesMs, flops: plan.flops, threshold: environment.spreadThreshold,
                                repetitions: benchCase.repetitions) {
            progress(.peer(label: plan.run.label, peer: row.peer, message: Self.measuredSummary(row)))
          }
        }
      }
      start = end
    }
    while roundsFinished < rounds {
      roundsFinished += 1
      try endOfRound(roundsFinished)
    }

    var models: [ModelSection] = []
    var kernels: [KernelRow] = []
    for (p, plan) in plans.enumerated() {
      let ledger = ledgers[p]
      let results = plan.cases.indices.map { ledger.cases[$0].result(plan.cases[$0], flops: plan.flops, threshold: environment.spreadThreshold) }
      var section = ReportBuilder.modelSection(plan: plan, results: results, primaryProfile: plan.run.profiles.first)
      if let headline = plan.cases.firstIndex(where: \.isHeadline) {
        section.peers = (ledger.peers?.rows(compiledSamplesMs: results[headline].samplesMs, flops: plan.flops,
                                            threshold: environment.spreadThreshold, repetitions: plan.cases[headline].repetitions) ?? [])
          .map { row in
            var row = row
            row.percentOfPeak = row.gflops.map { 100 * $0 / host.peak(threads: row.threads) }
            return row
          }
        let timed = ledger.cases[headline]
        if plan.cases[headline].recordsKernels, let program = timed.program {
          kernels += ReportBuilder.kernelRows(model: plan.run.label, program: program, samples: timed.kernelSeconds, rounds: timed.kernelRounds,
                                              threads: results[headline].threads, host: host, threshold: environment.spreadThreshold)
        }
      }
      models.append(section)
    }
    return (models, kernels)
  }

  /// One visit: build the executor, warm up, take this round's samples (the peers' between them),
  /// then this round's kernel-timing runs. For a compiled case, the peak resident memory that
  /// building and running the executor added is read over the visit (before any peer starts).
  func measure(_ visit: Visit, plan: ModelPlan, rounds: Int, ledger: inout ModelLedger, weights: [String: RuntimeTensor],
               inputs: [String: RuntimeTensor]) throws {
    let benchCase = plan.cases[visit.benchCase]
    var record = ledger.cases[visit.benchCase]
    let buildStart = Date()
    let executor: any Executor
    var compiled: CompiledExecutor?
    var window: ResidentMemory.PeakWindow?
    switch benchCase.executor {
    case .compiled, .naive:
      guard let profile = benchCase.profile else { throw BenchError.caseFailed(plan.run.label, "no profile for \(benchCase.executor.rawValue)") }
      let program = try record.program
        ?? Lowering.lower(graph: plan.graph, profile: profile, mode: benchCase.executor == .naive ? .naive : .compiled, name: plan.run.label)
      record.program = program
      if benchCase.executor == .compiled { window = .open() }
      let built = try CompiledExecutor(program: program, weights: weights, threads: benchCase.threads, policy: benchCase.numa ?? .local,
                                       topology: environment.topology, cache: environment.cache)
      compiled = built
      executor = built
    case .eagerBLAS:
      executor = try EagerBLASExecutor(graph: plan.graph, weights: weights, threads: benchCase.threads)
    }
    if record.buildSeconds == nil { record.buildSeconds = Date().timeIntervalSince(buildStart) }
    for _ in 0..<benchCase.warmups { _ = try executor.run(inputs) }

    func readMemory() {
      guard let opened = window, let compiled else { return }
      window = nil
      guard let added = opened.addedPeakBytes() else { return }
      let figures = MemoryFigures(packedWeightBytes: compiled.packedWeightBytes, arenaBytes: compiled.arenaBytes, peakResidentBytes: added)
      record.memory = MemoryFigures.worse(record.memory, figures)
    }

    var peers: InterleavedPeers?
    if benchCase.isHeadline, !plan.run.peers.isEmpty, let location = environment.peers {
      // Parity is checked against compiled's outputs of one more (untimed) run of the same inputs.
      let reference = try executor.run(inputs)
      readMemory()
      let export = ledger.export ?? PeerExport(graph: plan.graph, weights: weights, environment: location)
      ledger.export = export
      let started = InterleavedPeers(peers: plan.run.peers, export: export, inputs: inputs, reference: reference, threads: benchCase.threads,
                                     warmups: benchCase.warmups, round: visit.round, environment: location)
      for peer in plan.run.peers {
        progress(.peer(label: plan.run.label, peer: peer.rawValue, message: "round \(visit.round)/\(rounds): " + started.loadSummary(peer)))
      }
      peers = started
    }
    defer { peers?.close() }
    for _ in 0..<visit.repetitions {
      let start = DispatchTime.now().uptimeNanoseconds
      _ = try executor.run(inputs)
      record.samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
      record.rounds.append(visit.round)
      peers?.sampleEach()
    }
    if let peers {
      peers.close()
      if ledger.peers == nil { ledger.peers = PeerLedger(requested: plan.run.peers, threads: benchCase.threads, warmups: benchCase.warmups) }
      ledger.peers?.absorb(peers)
      if visit.round == RoundSchedule.roundsVisited(repetitions: benchCase.repetitions, rounds: rounds).last { ledger.export = nil }
    }
    // Kernel timing puts a barrier after every kernel, so it gets runs of its own, after the
    // step samples: the step times above are those of the module as it normally runs.
    if benchCase.recordsKernels, let compiled {
      try compiled.enableKernelTiming()
      for _ in 0..<Self.kernelTimingRuns(repetitions: visit.repetitions) {
        _ = try compiled.run(inputs)
        if let perKernel = compiled.lastKernelSeconds {
          record.kernelSeconds.append(perKernel)
          record.kernelRounds.append(visit.round)
        }
      }
    }
    readMemory()
    ledger.cases[visit.benchCase] = record
  }
}
