import Bench
import Foundation
import Testing

/// Finding the peers' Python, and saying how to get it when it is missing.
@Suite struct PeerEnvironmentTests {
  @Test func aMissingVirtualEnvironmentIsReportedWithTheMakeTarget() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-peers-env-\(UUID().uuidString)")
    let scripts = root.appendingPathComponent("bench/peers")
    try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    _ = FileManager.default.createFile(atPath: scripts.appendingPathComponent("run_peers.py").path, contents: Data())
    #expect(throws: PeerEnvironment.missing) {
      try PeerEnvironment.locate(environment: [:], searchingFrom: [scripts.appendingPathComponent("deeper")])
    }
    #expect(PeerEnvironment.missing.description.contains("`make peers`"))
  }

  @Test func thePythonVariableWinsOverTheVirtualEnvironment() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-peers-env-\(UUID().uuidString)")
    let scripts = root.appendingPathComponent("bench/peers")
    try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    _ = FileManager.default.createFile(atPath: scripts.appendingPathComponent("run_peers.py").path, contents: Data())
    let located = try PeerEnvironment.locate(environment: [PeerEnvironment.pythonVariable: "/bin/sh"], searchingFrom: [root])
    #expect(located.python.path == "/bin/sh")
    #expect(located.harness.standardizedFileURL.path == scripts.appendingPathComponent("run_peers.py").standardizedFileURL.path)
    #expect(throws: PeerError.self) {
      try PeerEnvironment.locate(environment: [PeerEnvironment.pythonVariable: root.appendingPathComponent("nope").path],
                                 searchingFrom: [root])
    }
  }

  @Test func aFolderOutsideAnyCheckoutIsRefusedWithItsPath() throws {
    #expect(throws: PeerError.self) { try PeerEnvironment.locate(environment: [:], searchingFrom: [URL(fileURLWithPath: "/")]) }
  }
}
