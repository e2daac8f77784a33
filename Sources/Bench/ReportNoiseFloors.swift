/// Where each figure of a report gets its noise floor from (`NoiseFloor`).
///
/// Two classes per team size. A step's time: pooled over the model cases and the peers (figures
/// of one forward pass each) at or above the timing resolution, applied to them and to the other whole-run figures of that team
/// size: generation totals, compile times, kernel benchmarks. A kernel's time: pooled over the
/// per-kernel rows at or above the timing resolution (below it one preemption moves a figure by
/// multiples, which says nothing of the machine's drift), applied to every kernel row.
extension BenchReport {
  /// Pools the floors, records them in `noiseFloors`, and raises each figure's `noise` to its
  /// floor. `trustworthy` is left as measured: it judges the figure's own samples.
  mutating func applyNoiseFloors(kernelResolutionSeconds: Double = ReportComparison.defaultKernelResolutionMs / 1e3,
                                 confidence: Double = NoiseFloor.defaultConfidence) {
    let maxRounds = Swift.max(suite.rounds ?? 1, 1)
    var stepFloors: [Int: NoiseFloor] = [:]
    var stepMedians: [Int: [[Double]]] = [:]
    let resolutionMs = kernelResolutionSeconds * 1e3
    for model in models {
      // A figure under the resolution still names its class, so that a class without a floor gets its note.
      for result in model.cases {
        stepMedians[result.threads, default: []].append(result.msPerStep >= resolutionMs ? result.roundMediansMs ?? [] : [])
      }
      for peer in model.peers where peer.msPerStep != nil {
        stepMedians[peer.threads, default: []].append((peer.msPerStep ?? 0) >= resolutionMs ? peer.roundMediansMs ?? [] : [])
      }
    }
    for (threads, medians) in stepMedians {
      stepFloors[threads] = NoiseFloor(figureClass: Self.teamName(threads), threads: threads, roundMedians: medians,
                                       maxRounds: maxRounds, confidence: confidence)
    }
    var kernelFloors: [Int: NoiseFloor] = [:]
    let timedKernels = Dictionary(grouping: kernels.filter { $0.seconds >= kernelResolutionSeconds }, by: \.threads)
    for (threads, rows) in timedKernels {
      kernelFloors[threads] = NoiseFloor(figureClass: "kernels, " + Self.teamName(threads), threads: threads,
                                         roundMedians: rows.map { $0.roundMedianSeconds ?? [] }, maxRounds: maxRounds,
                                         confidence: confidence)
    }
    let floors = (stepFloors.values.sorted { $0.threads < $1.threads } + kernelFloors.values.sorted { $0.threads < $1.threads })
    noiseFloors = floors.isEmpty ? nil : floors
    for (threads, medians) in stepMedians where stepFloors[threads] == nil {
      notes.append("No noise floor for \(Self.teamName(threads)): its \(medians.filter { $0.count > 1 }.count) figures of at least "
        + ReportWriter.number(resolutionMs, 0) + " ms measured in more than one round give fewer than \(NoiseFloor.minimumResiduals) round "
        + "medians; their noise is their own.")
    }

    func floor(_ threads: Int, rounds: Int) -> Double? { stepFloors[threads]?.floor(rounds: rounds) }
    for m in models.indices {
      for c in models[m].cases.indices {
        let result = models[m].cases[c]
        models[m].cases[c].raiseNoise(to: floor(result.threads, rounds: result.roundMediansMs?.count ?? 1))
      }
      for p in models[m].peers.indices {
        let peer = models[m].peers[p]
        guard peer.msPerStep != nil else { continue }
        models[m].peers[p].raiseNoise(to: floor(peer.threads, rounds: peer.roundMediansMs?.count ?? 1))
      }
      // The headline and per-profile entries are copies of cases: keep them equal to their case.
      for (key, headline) in models[m].executors {
        if let match = models[m].cases.first(where: { $0.sameCase(as: headline) }) { models[m].executors[key] = match }
      }
      for (key, entry) in models[m].profiles {
        if let match = models[m].cases.first(where: { $0.sameCase(as: entry) }) { models[m].profiles[key] = match }
      }
    }
    for k in kernels.indices {
      let row = kernels[k]
      kernels[k].raiseNoise(to: kernelFloors[row.threads]?.floor(rounds: row.roundMedianSeconds?.count ?? 1))
    }
    for g in generation.rows.indices {
      let row = generation.rows[g]
      generation.rows[g].raiseNoise(to: floor(row.threads, rounds: row.roundMediansSeconds?.count ?? 1))
    }
    if let rows = compile {
      compile = rows.map { row in
        var row = row
        row.coldSeconds.raiseNoise(to: floor(host.cores, rounds: row.coldSeconds.roundMedians.count))
        row.warmSeconds.raiseNoise(to: floor(host.cores, rounds: row.warmSeconds.roundMedians.count))
        return row
      }
    }
    if var section = kernelBenchmarks {
      for r in section.gemm.indices {
        let threads = section.gemm[r].threads
        section.gemm[r].kiln.raiseNoise(to: floor(threads, rounds: 1))
        section.gemm[r].kilnEpilogue?.raiseNoise(to: floor(threads, rounds: 1))
        section.gemm[r].openBLAS.raiseNoise(to: floor(threads, rounds: 1))
      }
      for r in section.attention.indices {
        let threads = section.attention[r].threads
        section.attention[r].kiln.raiseNoise(to: floor(threads, rounds: 1))
        section.attention[r].eagerBLAS.raiseNoise(to: floor(threads, rounds: 1))
      }
      kernelBenchmarks = section
    }
  }

  static func teamName(_ threads: Int) -> String { threads == 1 ? "1 thread" : "\(threads) threads" }
}

extension CaseResult {
  mutating func raiseNoise(to floor: Double?) {
    noiseFloor = floor
    noise = Swift.max(noise ?? spread, floor ?? 0)
  }

  func sameCase(as other: CaseResult) -> Bool {
    executor == other.executor && profile == other.profile && threads == other.threads && numa == other.numa
  }
}

extension PeerRow {
  mutating func raiseNoise(to floor: Double?) {
    noiseFloor = floor
    noise = Swift.max(noise ?? spread ?? 0, floor ?? 0)
  }
}

extension KernelRow {
  mutating func raiseNoise(to floor: Double?) {
    noiseFloor = floor
    noise = Swift.max(noise ?? spread, floor ?? 0)
  }
}

extension GenerationRow {
  mutating func raiseNoise(to floor: Double?) {
    noiseFloor = floor
    noise = Swift.max(noise ?? spread, floor ?? 0)
  }
}

extension TimedFigure {
  mutating func raiseNoise(to floor: Double?) {
    noiseFloor = floor
    noise = Swift.max(noise, floor ?? 0)
  }
}

extension KernelFigure {
  mutating func raiseNoise(to floor: Double?) {
    noiseFloor = floor
    noise = Swift.max(spread, floor ?? 0)
  }
}
