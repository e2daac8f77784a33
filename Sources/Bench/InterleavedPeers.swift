import Foundation
import Runtime
import Tracer

/// A model's graph and weights exported to ONNX once for the peers, kept on disk for every round
/// of the suite (each round starts the peers again on it) and removed when this goes away.
final class PeerExport {
  let directory: URL
  /// Why the export failed; then no round starts the peers.
  let error: String?

  init(graph: Graph, weights: [String: RuntimeTensor], environment: PeerEnvironment) {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-peers-\(UUID().uuidString)", isDirectory: true)
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      try PeerRunner.exportModel(graph: graph, weights: weights, to: directory, environment: environment)
      error = nil
    } catch {
      self.error = "\(error)"
    }
  }

  deinit { try? FileManager.default.removeItem(at: directory) }
}

/// The peers of one model in one round, started beside its headline compiled case once that is
/// warm, and sampled one run at a time between compiled's samples (A B A B …), so that drift in
/// the machine hits every side alike.
final class InterleavedPeers {
  let requested: [Peer]
  let round: Int
  private let runner: PeerRunner?
  private(set) var loads: [Peer: PeerLoad] = [:]
  /// Milliseconds of each timed run, in order.
  private(set) var samples: [Peer: [Double]] = [:]
  private(set) var errors: [Peer: String] = [:]

  /// Starts the peers on `export`; parity is checked against `reference` (compiled's outputs) as
  /// they load. A failure to export or start leaves every peer with that error.
  init(peers: [Peer], export: PeerExport, inputs: [String: RuntimeTensor], reference: [String: RuntimeTensor], threads: Int,
       warmups: Int, round: Int, environment: PeerEnvironment) {
    requested = peers
    self.round = round
    var runner: PeerRunner?
    if let error = export.error {
      for peer in peers { errors[peer] = error }
    } else {
      do {
        runner = try PeerRunner(exportedIn: export.directory, inputs: inputs, reference: reference, peers: peers, threads: threads,
                                warmup: warmups, environment: environment)
      } catch {
        for peer in peers { errors[peer] = "\(error)" }
      }
    }
    self.runner = runner
    for load in runner?.loads ?? [] {
      guard let peer = Peer(rawValue: load.name) else { continue }
      loads[peer] = load
      if let error = load.error { errors[peer] = error }
    }
  }

  deinit { close() }

  /// Peers that loaded and have not failed since.
  var running: [Peer] { requested.filter { loads[$0] != nil && errors[$0] == nil } }

  /// One timed run of each running peer; a peer that fails is dropped with its message.
  func sampleEach() {
    guard let runner else { return }
    for peer in running {
      do {
        samples[peer, default: []] += try runner.run(peer, repetitions: 1)
      } catch {
        errors[peer] = "\(error)"
      }
    }
  }

  func close() { runner?.close() }

  /// The progress line of one peer once loaded: its version and parity against compiled.
  func loadSummary(_ peer: Peer) -> String {
    if let error = errors[peer] { return "not run: \(error)" }
    guard let load = loads[peer] else { return "not run" }
    let version = load.version.map { " \($0)" } ?? ""
    guard let parity = load.parity else { return "loaded\(version), parity not checked: timings not used in ratios" }
    let figures = String(format: "parity vs compiled %.2e (tolerance %.0e)", parity.relativeError, parity.tolerance)
    return "loaded\(version), \(figures) " + (parity.passed ? "passed" : "FAILED: timings not used in ratios")
  }
}

/// Every round's peers of one model together: their samples with the round each was taken in,
/// the least favourable load (a parity failure in any round withholds the ratio), the last error.
struct PeerLedger {
  let requested: [Peer]
  let threads: Int
  let warmups: Int
  private var loads: [Peer: PeerLoad] = [:]
  private var samples: [Peer: [Double]] = [:]
  private var rounds: [Peer: [Int]] = [:]
  private var errors: [Peer: String] = [:]

  init(requested: [Peer], threads: Int, warmups: Int) {
    self.requested = requested
    self.threads = threads
    self.warmups = warmups
  }

  mutating func absorb(_ round: InterleavedPeers) {
    for peer in requested {
      if let load = round.loads[peer], Self.isWorse(load, than: loads[peer]) { loads[peer] = load }
      let taken = round.samples[peer] ?? []
      samples[peer, default: []] += taken
      rounds[peer, default: []] += Array(repeating: round.round, count: taken.count)
      if let error = round.errors[peer] { errors[peer] = error }
    }
  }

  /// A load that failed parity, or has none, outranks one that passed; among failures the larger error.
  private static func isWorse(_ load: PeerLoad, than current: PeerLoad?) -> Bool {
    guard let current else { return true }
    let passed = load.parity?.passed ?? false
    let currentPassed = current.parity?.passed ?? false
    if passed != currentPassed { return !passed }
    return (load.parity?.relativeError ?? .infinity) > (current.parity?.relativeError ?? .infinity)
  }

  /// One row per requested peer (% of peak is left to the caller, who knows the ceilings), against
  /// compiled's samples from the same interleaved runs.
  func rows(compiledSamplesMs: [Double], flops: Int, threshold: Double, repetitions: Int) -> [PeerRow] {
    let compiledMs = SampleStatistics(compiledSamplesMs)?.median
    return requested.map { peer in
      let load = loads[peer]
      let statistics = RoundStatistics(samples[peer] ?? [], rounds: rounds[peer] ?? [])
      let median = statistics?.all.median
      let gflops = median.flatMap { $0 > 0 ? Double(flops) / ($0 * 1e-3) / 1e9 : nil }
      let trusted = load?.timingsTrusted ?? false
      var speedup: Double?
      if trusted, let median, let compiledMs, compiledMs > 0 { speedup = median / compiledMs }
      var row = PeerRow(
        peer: peer.rawValue, version: load?.version, settings: load?.settings ?? [:], threads: threads, warmups: warmups,
        repetitions: repetitions, msPerStep: median, minMs: statistics?.all.min, maxMs: statistics?.all.max, spread: statistics?.all.spread,
        trustworthy: statistics?.isTrustworthy(threshold: threshold) ?? false, samplesMs: statistics?.all.samples ?? [],
        gflops: gflops, percentOfPeak: nil, compiledMs: compiledMs, compiledSpeedup: speedup,
        parityError: load?.parity?.relativeError, parityTolerance: load?.parity?.tolerance, parityPassed: load?.parity?.passed ?? false,
        error: errors[peer])
      if let statistics {
        row.sampleRounds = statistics.rounds
        row.roundMediansMs = statistics.roundMedians
        row.withinRoundSpread = statistics.withinRoundSpread
        row.betweenRoundDrift = statistics.betweenRoundDrift
        row.noise = statistics.noise
      }
      return row
    }
  }
}
