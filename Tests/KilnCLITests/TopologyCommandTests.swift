import Foundation
import Testing

/// `kiln topology`, run as a user would, on this machine and on the fixture machines.
extension CLITests {
  static let topologyFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/topologies")

  @Test func topologyPrintsThisMachinesNodesAndDistances() throws {
    let result = try kiln("topology")
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("node 0: CPUs"))
    #expect(result.stdout.contains("distances:"))
  }

  @Test func topologyFilePrintsItsPlanAsJSON() throws {
    let file = Self.topologyFixtures.appendingPathComponent("eight-node.json").path
    let result = try kiln("topology", "--topology", file, "--threads", "12", "--numa", "replicate", "--json")
    #expect(result.status == 0, "\(result.stderr)")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let plan = try #require(object["plan"] as? [String: Any])
    #expect(plan["nodeOfThread"] as? [Int] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7])
    #expect(plan["weightCopies"] as? Int == 8)
    let topology = try #require(object["topology"] as? [String: Any])
    #expect((topology["nodes"] as? [Any])?.count == 8)
  }

  @Test func topologyTextShowsWhichThreadsRunWhere() throws {
    let file = Self.topologyFixtures.appendingPathComponent("two-node.json").path
    let result = try kiln("topology", "--topology", file, "--threads", "4", "--numa", "interleave")
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("node 0: threads 0-1 on CPUs 0-1"))
    #expect(result.stdout.contains("node 1: threads 2-3 on CPUs 8-9"))
    #expect(result.stdout.contains("weights: one copy interleaved over nodes 0,1"))
  }

  @Test func topologyRefusesAMalformedFileInOneLine() throws {
    let url = try temporaryFile("topology.json", contents: #"{"nodes": [{"id": 0, "cpus": [], "memoryBytes": 1}], "distances": [[10]]}"#)
    let result = try kiln("topology", "--topology", url.path)
    #expect(result.status != 0)
    #expect(result.stderr.contains("nodes[0].cpus: node 0 has no CPU"))
    #expect(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
  }

  @Test func topologyRefusesMoreThreadsThanCPUs() throws {
    let file = Self.topologyFixtures.appendingPathComponent("two-node.json").path
    let result = try kiln("topology", "--topology", file, "--threads", "17")
    #expect(result.status != 0)
    #expect(result.stderr.contains("threads: 17 requested, the topology has 16 CPUs"))
  }
}
