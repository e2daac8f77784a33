import Foundation
@testable import Runtime
import Testing

@Suite struct TopologyTests {
  @Test func fixturesDecodeWithTheirNodesCPUsMemoryAndDistances() throws {
    let two = try TopologyFixtures.twoNode
    #expect(two.nodes.map(\.cpus) == [Array(0..<8), Array(8..<16)])
    #expect(two.distances == [[10, 21], [21, 10]])
    #expect(two.memoryBytes == 128 << 30)

    let four = try TopologyFixtures.fourNode
    #expect(four.nodes.map(\.cpus) == (0..<4).map { node in [node, node + 4, node + 8, node + 12] })
    #expect(four.distances[0] == [10, 16, 32, 32])
    #expect(four.distances[3] == [32, 32, 16, 10])

    let eight = try TopologyFixtures.eightNode
    #expect(eight.nodes.count == 8)
    #expect(eight.cpuCount == 32)
    #expect(eight.distances[0] == [10, 16, 22, 22, 32, 32, 32, 32])
    #expect(eight.distances[5] == [32, 32, 32, 32, 16, 10, 22, 22])
  }

  @Test(arguments: ["two-node", "four-node", "eight-node"])
  func jsonFormRoundTripsExactly(name: String) throws {
    let topology = try TopologyFixtures.load(name)
    let reread = try Topology(json: try topology.jsonData())
    #expect(reread == topology)
    #expect(try reread.jsonData() == topology.jsonData())
  }

  @Test func thisMachineHasEveryAllowedCPUOnceAndSomeMemory() throws {
    let topology = try Topology.current()
    let cpus = topology.nodes.flatMap(\.cpus)
    #expect(cpus.sorted() == (try ProcessStatus.allowedCPUs))
    #expect(Set(cpus).count == cpus.count)
    #expect(topology.nodes.allSatisfy { $0.memoryBytes > 0 })
    #expect(topology.distances.indices.allSatisfy { topology.distances[$0][$0] == 10 })
    // The JSON form of a live machine is as valid as a fixture's.
    #expect(try Topology(json: topology.jsonData()) == topology)
  }

  @Test func cpusAreKeptAscendingWhateverTheOrderGiven() throws {
    let topology = try Topology(nodes: [.init(id: 0, cpus: [3, 1, 2, 0], memoryBytes: 1)], distances: [[10]])
    #expect(topology.nodes[0].cpus == [0, 1, 2, 3])
  }

  static let invalidCases: [(json: String, field: String)] = [
    (#"{"nodes": [], "distances": []}"#, "nodes: at least one node"),
    (#"{"nodes": [{"id": 0, "cpus": [0, 1], "memoryBytes": 1}, {"id": 1, "cpus": [1], "memoryBytes": 1}], "distances": [[10, 20], [20, 10]]}"#,
     "nodes[1].cpus: CPU 1 also belongs to nodes[0]"),
    (#"{"nodes": [{"id": 0, "cpus": [], "memoryBytes": 1}], "distances": [[10]]}"#, "nodes[0].cpus: node 0 has no CPU"),
    (#"{"nodes": [{"id": 0, "cpus": [0], "memoryBytes": 1}, {"id": 0, "cpus": [1], "memoryBytes": 1}], "distances": [[10, 20], [20, 10]]}"#,
     "nodes[1].id: node 0 appears twice"),
    (#"{"nodes": [{"id": 0, "cpus": [0], "memoryBytes": -5}], "distances": [[10]]}"#, "nodes[0].memoryBytes: -5 is negative"),
    (#"{"nodes": [{"id": 0, "cpus": [0], "memoryBytes": 1}, {"id": 1, "cpus": [1], "memoryBytes": 1}], "distances": [[10, 20]]}"#,
     "distances: 1 rows for 2 nodes"),
    (#"{"nodes": [{"id": 0, "cpus": [0], "memoryBytes": 1}, {"id": 1, "cpus": [1], "memoryBytes": 1}], "distances": [[10, 20], [20]]}"#,
     "distances[1]: 1 entries for 2 nodes"),
    (#"{"nodes": [{"id": 0, "cpus": [0], "memoryBytes": 1}, {"id": 1, "cpus": [1], "memoryBytes": 1}], "distances": [[10, 20], [21, 10]]}"#,
     "distances[0][1]: 20 differs from distances[1][0] = 21"),
    (#"{"nodes": [{"id": 0, "cpus": [0], "memoryBytes": 1}, {"id": 1, "cpus": [1], "memoryBytes": 1}], "distances": [[10, 10], [10, 10]]}"#,
     "distances[0][1]: 10 is not larger than the local distance 10"),
    (#"{"nodes": [{"id": 0, "cpus": [0], "memoryBytes": 1}], "distances": [[0]]}"#, "distances[0][0]: 0 is not positive"),
    (#"{"nodes": [{"id": 0, "cpus": [0]}], "distances": [[10]]}"#, "nodes[0].memoryBytes: missing"),
    (#"{"nodes": [{"id": 0, "cpus": ["a"], "memoryBytes": 1}], "distances": [[10]]}"#, "nodes[0].cpus[0]: expected Int"),
    (#"{"nodes": [{"id": 0, "cpus": [0], "memoryBytes": 1}]}"#, "distances: missing"),
    (#"{"nodes": [{"#, "not valid JSON"),
  ]

  @Test(arguments: invalidCases)
  func invalidTopologyIsRefusedWithAOneLineErrorNamingTheField(json: String, field: String) throws {
    let error = try #require(throws: RuntimeError.self) { try Topology(json: Data(json.utf8)) }
    guard case .invalidTopology(let message) = error else {
      Issue.record("expected invalidTopology, got \(error)")
      return
    }
    #expect(message.hasPrefix(field), "message: \(message)")
    #expect(!error.description.contains("\n"))
  }

  @Test func aMissingFileIsNamedInTheError() throws {
    let error = try #require(throws: RuntimeError.self) {
      try Topology(contentsOf: URL(fileURLWithPath: "/nonexistent/kiln-topology.json"))
    }
    #expect(error.description.contains("/nonexistent/kiln-topology.json"))
  }

  @Test func anInvalidFileIsNamedWithTheField() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-topology-\(UUID().uuidString).json")
    defer { try? FileManager.default.removeItem(at: url) }
    try Data(#"{"nodes": [{"id": 0, "cpus": [], "memoryBytes": 1}], "distances": [[10]]}"#.utf8).write(to: url)
    let error = try #require(throws: RuntimeError.self) { try Topology(contentsOf: url) }
    #expect(error.description == "topology: '\(url.path)': nodes[0].cpus: node 0 has no CPU")
  }
}

@Suite struct TopologyWithoutNUMATests {
  @Test func withoutNUMAThereIsOneNodeWithTheGivenCPUsAndAllMemory() throws {
    let topology = try Topology.singleNode(cpus: [0, 1, 2])
    #expect(topology.nodes == [Topology.Node(id: 0, cpus: [0, 1, 2], memoryBytes: sysconf(Int32(_SC_PHYS_PAGES)) * sysconf(Int32(_SC_PAGESIZE)))])
    #expect(topology.distances == [[10]])
    #expect(topology.memoryBytes > 1 << 20)
  }
}
