import Foundation
import Runtime

/// The example machines in Tests/Fixtures/topologies: two sockets of 8 cores (SLIT 10/21); four
/// nodes of 4 CPUs with ids interleaved across nodes (CPU i on node i % 4; 16 within a socket,
/// 32 across); eight nodes of 4 CPUs (16 within a package, 22 within a socket, 32 across).
enum TopologyFixtures {
  static let directory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/topologies")

  static func url(_ name: String) -> URL { directory.appendingPathComponent(name + ".json") }

  static func load(_ name: String) throws -> Topology { try Topology(contentsOf: url(name)) }

  static var twoNode: Topology { get throws { try load("two-node") } }
  static var fourNode: Topology { get throws { try load("four-node") } }
  static var eightNode: Topology { get throws { try load("eight-node") } }
}

/// What /proc says about this process.
enum ProcessStatus {
  static func field(_ name: String) throws -> String {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
      return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
    }
    throw RuntimeError.system("/proc/self/status has no \(name)")
  }

  static var threads: Int { get throws { Int(try field("Threads")) ?? -1 } }

  /// Resident memory in KiB.
  static var residentKiB: Int { get throws { Int(try field("VmRSS").split(separator: " ")[0]) ?? -1 } }

  /// `0-3,8` as the kernel prints CPU lists.
  static var allowedCPUs: [Int] {
    get throws {
      try field("Cpus_allowed_list").split(separator: ",").flatMap { part -> [Int] in
        let bounds = part.split(separator: "-").compactMap { Int($0) }
        return bounds.count == 2 ? Array(bounds[0]...bounds[1]) : bounds
      }
    }
  }

  /// The names of this process's threads (/proc/self/task/*/comm).
  static var threadNames: [String] {
    get throws {
      try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { task in
        (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
          .trimmingCharacters(in: .whitespacesAndNewlines)
      }
    }
  }
}
