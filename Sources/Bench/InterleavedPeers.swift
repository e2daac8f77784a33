import Foundation
import Runtime
import Tracer

/// The peers of one model, loaded beside its headline compiled case and sampled one run at a
/// time between compiled's samples (A B A B …), so that drift in the machine hits every side alike.
final class InterleavedPeers {
  let requested: [Peer]
  let threads: Int
  let warmups: Int
  private let runner: PeerRunner?
  private let directory: URL
  private(set) var loads: [Peer: PeerLoad] = [:]
  private(set) var samples: [Peer: [Double]] = [:]
  private(set) var errors: [Peer: String] = [:]

  /// Exports the graph and starts the peers; parity is checked against `reference` (compiled's
  /// outputs) as they load. A failure to export or start leaves every peer with that error.
  init(peers: [Peer], graph: Graph, weights: [String: RuntimeTensor], inputs: [String: RuntimeTensor],
       reference: [String: RuntimeTensor], threads: Int, warmups: Int, environment: PeerEnvironment) {
    requested = peers
    self.threads = threads
    self.warmups = warmups
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-peers-\(UUID().uuidString)", isDirectory: true)
    var runner: PeerRunner?
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      runner = try PeerRunner(graph: graph, weights: weights, inputs: inputs, reference: reference, peers: peers, threads: threads,
                              warmup: warmups, workDirectory: directory, environment: environment)
    } catch {
      for peer in peers { errors[peer] = "\(error)" }
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

  func close() {
    runner?.close()
    try? FileManager.default.removeItem(at: directory)
  }

  /// One row per requested peer (% of peak is left to the caller, who knows the ceilings), against compiled's samples from the same interleaved run.
  func rows(compiledSamples: [Double], flops: Int, threshold: Double, repetitions: Int) -> [PeerRow] {
    let compiledMs = SampleStatistics(compiledSamples)?.scaled(by: 1e3).median
    return requested.map { peer in
      let load = loads[peer]
      let statistics = SampleStatistics(samples[peer] ?? [])
      let median = statistics?.median
      let gflops = median.flatMap { $0 > 0 ? Double(flops) / ($0 * 1e-3) / 1e9 : nil }
      let trusted = load?.timingsTrusted ?? false
      var speedup: Double?
      if trusted, let median, let compiledMs, compiledMs > 0 { speedup = median / compiledMs }
      return PeerRow(
        peer: peer.rawValue, version: load?.version, settings: load?.settings ?? [:], threads: threads, warmups: warmups,
        repetitions: repetitions, msPerStep: median, minMs: statistics?.min, maxMs: statistics?.max, spread: statistics?.spread,
        trustworthy: statistics?.isTrustworthy(threshold: threshold) ?? false, samplesMs: statistics?.samples ?? [],
        gflops: gflops, percentOfPeak: nil, compiledMs: compiledMs, compiledSpeedup: speedup,
        parityError: load?.parity?.relativeError, parityTolerance: load?.parity?.tolerance, parityPassed: load?.parity?.passed ?? false,
        error: errors[peer])
    }
  }

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
