import Foundation

/// Why a peer (ONNX Runtime, OpenVINO) could not be exported, loaded or run; one actionable line.
public struct PeerError: Error, Equatable, CustomStringConvertible, Sendable {
  public let description: String

  public init(_ description: String) {
    self.description = description
  }
}

/// Where the peers' Python and scripts are: `bench/peers/` of the Kiln checkout, and the Python
/// of `.peers-venv/` (made by `make peers`) or `$KILN_PEERS_PYTHON`. The peers are optional: Kiln
/// works without them, and only what compares against them asks for this.
public struct PeerEnvironment: Sendable, Equatable {
  /// The environment variable that names a Python with numpy, onnx, onnxruntime and openvino.
  public static let pythonVariable = "KILN_PEERS_PYTHON"
  public static let virtualEnvironment = ".peers-venv"
  static let scriptsFolder = "bench/peers"

  /// The Python interpreter that runs the scripts.
  public let python: URL
  /// The folder holding `export_onnx.py` and `run_peers.py`.
  public let scripts: URL

  public init(python: URL, scripts: URL) {
    self.python = python
    self.scripts = scripts
  }

  public var exporter: URL { scripts.appendingPathComponent("export_onnx.py") }
  public var harness: URL { scripts.appendingPathComponent("run_peers.py") }

  /// Finds the Kiln checkout (a folder holding `bench/peers/run_peers.py`) above the current
  /// directory, or above this source file for builds run in place, then its Python.
  public static func locate(
    environment: [String: String] = ProcessInfo.processInfo.environment,
    searchingFrom starts: [URL] = defaultSearchStarts
  ) throws(PeerError) -> PeerEnvironment {
    guard let root = starts.lazy.compactMap(repositoryRoot(above:)).first else {
      throw PeerError("cannot find \(scriptsFolder)/run_peers.py above \(starts.map(\.path).joined(separator: " or ")): run from the Kiln checkout")
    }
    let scripts = root.appendingPathComponent(scriptsFolder)
    if let named = environment[pythonVariable], !named.isEmpty {
      guard FileManager.default.isExecutableFile(atPath: named) else {
        throw PeerError("\(pythonVariable)=\(named) is not an executable file")
      }
      return PeerEnvironment(python: URL(fileURLWithPath: named), scripts: scripts)
    }
    let python = root.appendingPathComponent(virtualEnvironment).appendingPathComponent("bin/python")
    guard FileManager.default.isExecutableFile(atPath: python.path) else { throw missing }
    return PeerEnvironment(python: python, scripts: scripts)
  }

  /// Whether the peers can run here: the scripts and a Python for them were found.
  public static var isAvailable: Bool { (try? locate()) != nil }

  /// The message when no Python for the peers exists.
  public static let missing = PeerError(
    "ONNX Runtime and OpenVINO are not installed: `make peers` adds them (a Python virtual environment in "
      + "\(virtualEnvironment)/), or set \(pythonVariable) to a Python that has numpy, onnx, onnxruntime and openvino")

  public static var defaultSearchStarts: [URL] {
    [
      URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
      // Sources/Bench/Peers/PeerEnvironment.swift → the checkout, when run where it was built.
      URL(fileURLWithPath: #filePath).deletingLastPathComponent(),
    ]
  }

  private static func repositoryRoot(above start: URL) -> URL? {
    var directory = start.standardizedFileURL
    while true {
      let harness = directory.appendingPathComponent(scriptsFolder).appendingPathComponent("run_peers.py")
      if FileManager.default.fileExists(atPath: harness.path) { return directory }
      let parent = directory.deletingLastPathComponent()
      if parent.path == directory.path { return nil }
      directory = parent
    }
  }
}
