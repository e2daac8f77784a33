import Foundation
import Testing

@testable import Bench

/// Whether `make peers` (or `$KILN_PEERS_PYTHON`) provides ONNX Runtime and OpenVINO here.
let peersAreInstalled = PeerEnvironment.isAvailable

@Suite struct PeersSuiteParsingTests {
  func parse(_ text: String) throws -> Suite { try Suite(json: Data(text.utf8), file: "t.json") }

  func refusal(_ text: String) -> String {
    do {
      _ = try parse(text)
      return "accepted"
    } catch {
      return "\(error)"
    }
  }

  @Test func peersAreReadFromTheRunOrTheDefaultsAndAnEmptyListOptsOut() throws {
    let suite = try parse("""
      { "kiln-suite": 1, "name": "t", "defaults": { "peers": ["openvino"] },
        "runs": [ { "model": "dit-tiny", "peers": ["onnxruntime", "openvino", "onnxruntime"] },
                  { "model": "llama-tiny" }, { "model": "mmdit-tiny", "peers": [] } ] }
      """)
    #expect(suite.modelRuns.map(\.peers) == [[.onnxruntime, .openvino], [.openvino], []])
    let plain = try parse(#"{ "kiln-suite": 1, "name": "t", "runs": [ { "model": "dit-tiny" } ] }"#)
    #expect(plain.modelRuns[0].peers == [])
  }

  @Test func unknownPeerIsRefusedNamingTheField() {
    #expect(refusal(#"{ "kiln-suite": 1, "name": "t", "runs": [ { "model": "dit-tiny", "peers": ["onnxruntime", "tensorrt"] } ] }"#)
      == "suite t.json: runs[0].peers[1]: unknown peer 'tensorrt' (known: onnxruntime, openvino)")
    #expect(refusal(#"{ "kiln-suite": 1, "name": "t", "defaults": { "peers": ["torch"] }, "runs": [ { "model": "dit-tiny" } ] }"#)
      == "suite t.json: defaults.peers[0]: unknown peer 'torch' (known: onnxruntime, openvino)")
  }

  @Test func peersThatAreNotAListOfNamesAreRefused() {
    #expect(refusal(#"{ "kiln-suite": 1, "name": "t", "runs": [ { "model": "dit-tiny", "peers": "openvino" } ] }"#)
      == "suite t.json: runs[0].peers: must be a list of peer names (known: onnxruntime, openvino)")
    #expect(refusal(#"{ "kiln-suite": 1, "name": "t", "runs": [ { "model": "dit-tiny", "peers": [3] } ] }"#)
      == "suite t.json: runs[0].peers[0]: must be a non-empty string")
  }

  @Test func shippedSuitesNameBothPeers() throws {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../bench/suites")
    let quick = try Suite(contentsOf: folder.appendingPathComponent("quick.json"))
    #expect(quick.modelRuns.filter { $0.peers == Peer.allCases }.count == 1)
    let standard = try Suite(contentsOf: folder.appendingPathComponent("default.json"))
    let withPeers = Set(standard.modelRuns.filter { $0.peers == Peer.allCases }.map(\.model))
    #expect(withPeers.isSuperset(of: ["dit-s-2", "dit-xl-2", "sd-vae-decoder-sd", "video-dit-small", "mmdit-small"]))
  }
}

@Suite(.serialized) struct PeersInBenchTests {
  static let suite = """
    { "kiln-suite": 1, "name": "peers", "description": "dit-tiny beside its peers", "rounds": 2,
      "defaults": { "executors": ["compiled", "eager-blas"], "threads": ["all"], "warmups": 1, "repetitions": 3, "kernels": false },
      "runs": [ { "model": "dit-tiny", "peers": ["onnxruntime", "openvino"] }, { "model": "llama-tiny", "peers": ["openvino"] } ] }
    """

  func run(peers: PeerEnvironment?) throws -> BenchReport {
    var environment = try BenchFixtures.environment(generation: nil)
    environment.peers = peers
    return try BenchHarness(environment: environment).run(try Suite(json: Data(Self.suite.utf8), file: "peers.json"))
  }

  @Test(.enabled(if: peersAreInstalled, "the peers are not installed here: `make peers` adds ONNX Runtime and OpenVINO"))
  func tinyRunWithPeersWritesTheirRowsWithParity() throws {
    let report = try run(peers: try PeerEnvironment.locate())
    #expect(report.models.map { $0.peers.map(\.peer) } == [["onnxruntime", "openvino"], ["openvino"]])
    for model in report.models {
      let compiled = try #require(model.executors["compiled"])
      for row in model.peers {
        #expect(row.error == nil, "\(model.name) \(row.peer): \(row.error ?? "")")
        #expect(row.version != nil && !row.settings.isEmpty)
        #expect(row.parityPassed && (row.parityError ?? 1) <= 1e-4, "\(model.name) \(row.peer): parity \(row.parityError ?? .nan)")
        // Sampled alternately with compiled: one peer sample per compiled sample.
        #expect(row.samplesMs.count == compiled.samplesMs.count && row.samplesMs.allSatisfy { $0 > 0 })
        // Started again in each round, on the model exported once: the same rounds as compiled's samples.
        #expect(row.sampleRounds == [1, 1, 2] && row.sampleRounds == compiled.sampleRounds)
        #expect(row.noise == max(row.withinRoundSpread ?? .nan, row.betweenRoundDrift ?? .nan, row.noiseFloor ?? 0))
        #expect(row.compiledMs == compiled.msPerStep)
        let speedup = try #require(row.compiledSpeedup)
        #expect(abs(speedup - (row.msPerStep ?? 0) / compiled.msPerStep) < 1e-9)
        #expect(row.threads == compiled.threads && (row.gflops ?? 0) > 0)
      }
    }
    #expect(!report.notes.contains { $0.contains("make peers") })
    #expect(try ReportSchema.violations(report.jsonData()) == [])
    let markdown = ReportWriter.markdown(report)
    #expect(markdown.contains("## " + ReportWriter.peersTitle))
    #expect(markdown.contains("| dit-tiny | onnxruntime |") && markdown.contains("| llama-tiny | openvino |"))
    let chart = try #require(ReportWriter.charts(report)[ReportWriter.peersTitle]?.first)
    #expect(chart.components(separatedBy: "data-point=").count - 1 == 3)
  }

  @Test func withoutThePeersTheRunHappensAndTheNotesSayMakePeersOnce() throws {
    let report = try run(peers: nil)
    #expect(report.models.count == 2 && report.models.allSatisfy { $0.peers.isEmpty && $0.executors["compiled"] != nil })
    #expect(report.notes.filter { $0.contains("`make peers`") }.count == 1)
    #expect(try ReportSchema.violations(report.jsonData()) == [])
    #expect(!ReportWriter.markdown(report).contains(ReportWriter.peersTitle))
    #expect(!ReportWriter.html(report).contains(ReportWriter.peersTitle))
    #expect(ReportWriter.markdown(report).contains("make peers"))
  }

  @Test func aPeerFailingParityKeepsItsTimeButGetsNoRatio() throws {
    let rows = PeerRow(peer: "openvino", version: "1", settings: ["threads": "2"], threads: 2, warmups: 1, repetitions: 3, msPerStep: 5,
                       minMs: 4.9, maxMs: 5.1, spread: 0.04, trustworthy: true, samplesMs: [4.9, 5, 5.1], gflops: 1, percentOfPeak: 1,
                       compiledMs: 2, compiledSpeedup: nil, parityError: 0.3, parityTolerance: 1e-4, parityPassed: false, error: nil)
    var report = try BenchFixtures.tinyReport.get()
    report.models[0].peers = [rows]
    let line = try #require(ReportWriter.peerTableRows(report).first)
    #expect(line.contains("not used (parity)") && line.contains { $0.hasPrefix("3.0e-01 FAILED") })
    #expect(ReportWriter.charts(report)[ReportWriter.peersTitle] == nil)
  }

  @Test func reportsWrittenBeforePeersReadAsHavingNone() throws {
    let report = try BenchFixtures.tinyReport.get()
    var object = try #require(JSONSerialization.jsonObject(with: report.jsonData()) as? [String: Any])
    object["models"] = (object["models"] as? [[String: Any]])?.map { model in
      var model = model
      model["peers"] = nil
      return model
    }
    let folder = BenchFixtures.temporaryDirectory()
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let file = folder.appendingPathComponent("old.json")
    try JSONSerialization.data(withJSONObject: object).write(to: file)
    #expect(try BenchReport(contentsOf: file) == report)
  }
}
