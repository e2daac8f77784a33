import Foundation
import Runtime
import Tracer

/// A peer runtime that Kiln compares against, fed with Kiln's own graph and weights.
public enum Peer: String, Codable, CaseIterable, Sendable {
  case onnxruntime, openvino
}

/// How the peers' outputs compare with the reference: ‖peer − ref‖₂ / ‖ref‖₂ over every output.
public struct PeerParity: Codable, Equatable, Sendable {
  public let relativeError: Double
  public let perOutput: [String: Double]
  public let tolerance: Double
  public let passed: Bool

  enum CodingKeys: String, CodingKey {
    case relativeError = "relative_error", perOutput = "per_output", tolerance, passed
  }
}

/// One peer as loaded by the harness: its version, the settings read back from it, its parity.
public struct PeerLoad: Codable, Equatable, Sendable {
  public let name: String
  public let version: String?
  /// As applied (read back from the ONNX Runtime session or the compiled OpenVINO model).
  public let settings: [String: String]?
  public let loadMs: Double?
  /// nil when no reference outputs were given.
  public let parity: PeerParity?
  /// False when parity failed or was not checked: the export may be wrong, so the timings mean nothing.
  public let timingsTrusted: Bool?
  public let note: String?
  /// Set when the peer could not be loaded; every other member is then nil.
  public let error: String?

  enum CodingKeys: String, CodingKey {
    case name, version, settings, parity, note, error
    case loadMs = "load_ms", timingsTrusted = "timings_trusted"
  }
}

/// Runs ONNX Runtime and OpenVINO on a Kiln graph, one timed run at a time, so that a bench can
/// interleave them with Kiln's executors (A B A B). On creation it exports the graph and weights to
/// ONNX (`bench/peers/export_onnx.py`), writes the inputs and reference outputs, and starts the
/// harness (`bench/peers/run_peers.py --persistent`), which loads each peer, checks its outputs
/// against the reference and warms it up. The harness process lives until `close()` or deinit.
public final class PeerRunner {
  /// Each requested peer as loaded, in the order requested.
  public let loads: [PeerLoad]
  /// The folder holding the exported model, inputs, reference and the harness's log.
  public let workDirectory: URL

  private let process: Process
  private let commands: FileHandle
  private var answers: LineReader
  private let log: URL

  /// Exports the graph and starts the harness: `exportModel` then `init(exportedIn:…)`.
  /// - Parameters:
  ///   - reference: the outputs to check the peers against (Kiln's executor outputs, or the
  ///     reference interpreter's); nil leaves parity unchecked and every peer untrusted.
  ///   - threads: the team size Kiln runs with; each peer gets as many threads.
  ///   - workDirectory: an existing folder for the exported files (the model may take gigabytes).
  public convenience init(
    graph: Graph, weights: [String: RuntimeTensor], inputs: [String: RuntimeTensor],
    reference: [String: RuntimeTensor]?, peers: [Peer] = Peer.allCases, threads: Int, warmup: Int = 1,
    workDirectory: URL, environment: PeerEnvironment? = nil
  ) throws {
    try Self.validate(peers: peers, threads: threads, warmup: warmup)
    let environment = try environment ?? PeerEnvironment.locate()
    try Self.exportModel(graph: graph, weights: weights, to: workDirectory, environment: environment)
    try self.init(exportedIn: workDirectory, inputs: inputs, reference: reference, peers: peers, threads: threads, warmup: warmup,
                  environment: environment)
  }

  /// Exports `graph` with `weights` to ONNX in `directory` (an existing folder), so that harnesses
  /// started later (the bench starts one per round) load it without exporting again. The graph and
  /// weights files written on the way are removed once the model is exported.
  public static func exportModel(graph: Graph, weights: [String: RuntimeTensor], to directory: URL, environment: PeerEnvironment) throws {
    let files = PeerFiles(directory: directory)
    try graph.write(to: files.graph)
    try writeSafetensors(weights.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: files.weights)
    try Self.export(files, environment: environment)
    try? FileManager.default.removeItem(at: files.weights)
    try? FileManager.default.removeItem(at: files.graph)
  }

  /// Starts the harness on the model `exportModel` wrote into `workDirectory`: writes the inputs
  /// and the reference there, then each peer loads, checks parity and warms up.
  public init(
    exportedIn workDirectory: URL, inputs: [String: RuntimeTensor], reference: [String: RuntimeTensor]?,
    peers: [Peer] = Peer.allCases, threads: Int, warmup: Int = 1, environment: PeerEnvironment? = nil
  ) throws {
    try Self.validate(peers: peers, threads: threads, warmup: warmup)
    let environment = try environment ?? PeerEnvironment.locate()
    self.workDirectory = workDirectory
    let files = PeerFiles(directory: workDirectory)
    guard FileManager.default.fileExists(atPath: files.model.path) else {
      throw PeerError("no exported model in \(workDirectory.path): export it first (PeerRunner.exportModel)")
    }
    try writeSafetensors(inputs.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: files.inputs)
    if let reference {
      try writeSafetensors(reference.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: files.reference)
    }

    var arguments = [
      environment.harness.path, files.model.path, "--inputs", files.inputs.path,
      "--threads", String(threads), "--warmup", String(warmup),
      "--peers", peers.map(\.rawValue).joined(separator: ","), "--persistent",
    ]
    if reference != nil { arguments += ["--reference", files.reference.path] }
    log = files.log
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    let input = Pipe()
    let output = Pipe()
    process = Process()
    process.executableURL = environment.python
    process.arguments = arguments
    process.standardInput = input
    process.standardOutput = output
    process.standardError = try FileHandle(forWritingTo: log)
    do {
      try process.run()
    } catch {
      throw PeerError("cannot start \(environment.python.path): \(error.localizedDescription)")
    }
    commands = input.fileHandleForWriting
    answers = LineReader(output.fileHandleForReading)

    var loads: [PeerLoad] = []
    for peer in peers {
      let line = try Self.nextLine(&answers, log: log, waitingFor: "\(peer.rawValue) to load")
      loads.append(try Self.decode(PeerLoad.self, from: line))
    }
    self.loads = loads
  }

  deinit { close() }

  private static func validate(peers: [Peer], threads: Int, warmup: Int) throws {
    guard threads >= 1, warmup >= 0, !peers.isEmpty else {
      throw PeerError("a peer run needs threads ≥ 1, warmup ≥ 0 and at least one peer; got \(threads), \(warmup), \(peers.count)")
    }
  }

  /// `repetitions` timed runs of `peer`, in milliseconds, every sample.
  public func run(_ peer: Peer, repetitions: Int = 1) throws -> [Double] {
    guard let load = loads.first(where: { $0.name == peer.rawValue }), load.error == nil else {
      throw PeerError("\(peer.rawValue) is not loaded: \(loads.first { $0.name == peer.rawValue }?.error ?? "it was not requested")")
    }
    guard repetitions >= 1 else { throw PeerError("repetitions must be at least 1, got \(repetitions)") }
    let command = "{\"run\": \"\(peer.rawValue)\", \"repetitions\": \(repetitions)}\n"
    // Writing to a pipe nobody reads would raise SIGPIPE: look before writing.
    guard process.isRunning else { throw PeerError("the peer harness has stopped: \(Self.logTail(log))") }
    do {
      try commands.write(contentsOf: Data(command.utf8))
    } catch {
      throw PeerError("the peer harness has stopped: \(Self.logTail(log))")
    }
    let answer = try Self.decode(RunAnswer.self, from: try Self.nextLine(&answers, log: log, waitingFor: "\(peer.rawValue) to run"))
    if let error = answer.error { throw PeerError("\(peer.rawValue): \(error)") }
    guard let samples = answer.samplesMs, samples.count == repetitions else {
      throw PeerError("\(peer.rawValue): the harness answered without \(repetitions) samples")
    }
    return samples
  }

  /// Asks the harness to quit and waits for it. Idempotent.
  public func close() {
    guard process.isRunning else { return }
    try? commands.write(contentsOf: Data("{\"quit\": true}\n".utf8))
    try? commands.close()
    process.waitUntilExit()
  }

  private struct RunAnswer: Decodable {
    let samplesMs: [Double]?
    let error: String?

    enum CodingKeys: String, CodingKey {
      case samplesMs = "samples_ms", error
    }
  }

  private static func export(_ files: PeerFiles, environment: PeerEnvironment) throws {
    let process = Process()
    process.executableURL = environment.python
    process.arguments = [environment.exporter.path, files.graph.path, files.weights.path, files.model.path]
    let errors = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    do {
      try process.run()
    } catch {
      throw PeerError("cannot start \(environment.python.path): \(error.localizedDescription)")
    }
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      let lines = String(decoding: message, as: UTF8.self).split(separator: "\n")
      throw PeerError("exporting to ONNX failed: \(lines.last.map(String.init) ?? "exit status \(process.terminationStatus)")")
    }
  }

  private static func nextLine(_ reader: inout LineReader, log: URL, waitingFor what: String) throws -> Data {
    guard let line = reader.next() else {
      throw PeerError("the peer harness stopped while waiting for \(what): \(logTail(log))")
    }
    return line
  }

  private static func decode<T: Decodable>(_ type: T.Type, from line: Data) throws -> T {
    do {
      return try JSONDecoder().decode(type, from: line)
    } catch {
      throw PeerError("the peer harness answered something other than its JSON: \(String(decoding: line.prefix(200), as: UTF8.self))")
    }
  }

  private static func logTail(_ log: URL) -> String {
    let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    let last = text.split(separator: "\n").suffix(3).joined(separator: " / ")
    return last.isEmpty ? "no message (log: \(log.path))" : last
  }
}

/// The files a peer run writes in its work directory.
struct PeerFiles {
  let graph: URL
  let weights: URL
  let inputs: URL
  let reference: URL
  let model: URL
  let log: URL

  init(directory: URL) {
    graph = directory.appendingPathComponent("graph.json")
    weights = directory.appendingPathComponent("weights.safetensors")
    inputs = directory.appendingPathComponent("inputs.safetensors")
    reference = directory.appendingPathComponent("reference.safetensors")
    model = directory.appendingPathComponent("model.onnx")
    log = directory.appendingPathComponent("peers.log")
  }
}

/// Lines from a pipe, read as they come; nil at end of input.
struct LineReader {
  private let handle: FileHandle
  private var buffer = Data()

  init(_ handle: FileHandle) {
    self.handle = handle
  }

  mutating func next() -> Data? {
    while true {
      if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
        let line = buffer[buffer.startIndex..<newline]
        buffer = Data(buffer[buffer.index(after: newline)...])
        return Data(line)
      }
      let chunk = handle.availableData
      if chunk.isEmpty {
        guard !buffer.isEmpty else { return nil }
        defer { buffer = Data() }
        return buffer
      }
      buffer.append(chunk)
    }
  }
}
