import Foundation
import Runtime
import Testing

@Suite struct PlacementPlanTests {
  // MARK: Threads

  @Test func oneThreadPerCPUByDefaultNumberedNodeByNode() throws {
    let plan = try PlacementPlan(topology: TopologyFixtures.twoNode)
    #expect(plan.threadCount == 16)
    #expect(plan.cpuOfThread == Array(0..<16))
    #expect(plan.nodeOfThread == Array(repeating: 0, count: 8) + Array(repeating: 1, count: 8))
    #expect(plan.threads(onNode: 0) == 0..<8)
    #expect(plan.threads(onNode: 1) == 8..<16)
  }

  @Test func threadsFollowNodesNotCPUIdsWhenIdsInterleave() throws {
    let plan = try PlacementPlan(topology: TopologyFixtures.fourNode)
    #expect(plan.cpuOfThread == [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15])
    #expect(plan.nodeOfThread == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
  }

  @Test func fewerThreadsThanCPUsAreSpreadEvenlyOverNodes() throws {
    let two = try PlacementPlan(topology: TopologyFixtures.twoNode, threads: 4)
    #expect(two.cpuOfThread == [0, 1, 8, 9])
    #expect(two.nodeOfThread == [0, 0, 1, 1])

    let odd = try PlacementPlan(topology: TopologyFixtures.twoNode, threads: 3)
    #expect(odd.cpuOfThread == [0, 1, 8])
    #expect(odd.nodeOfThread == [0, 0, 1])

    let four = try PlacementPlan(topology: TopologyFixtures.fourNode, threads: 6)
    #expect(four.cpuOfThread == [0, 4, 1, 5, 2, 3])
    #expect(four.nodeOfThread == [0, 0, 1, 1, 2, 3])

    let eight = try PlacementPlan(topology: TopologyFixtures.eightNode, threads: 12)
    #expect(eight.nodeOfThread == [0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7])
    #expect(eight.cpuOfThread == [0, 1, 4, 5, 8, 9, 12, 13, 16, 20, 24, 28])

    let few = try PlacementPlan(topology: TopologyFixtures.eightNode, threads: 3)
    #expect(few.nodeOfThread == [0, 1, 2])
    #expect(few.nodesInUse == [0, 1, 2])
    #expect(few.threads(onNode: 5).isEmpty)
  }

  @Test func aFullNodePassesItsShareToTheOthers() throws {
    let lopsided = try Topology(
      nodes: [.init(id: 0, cpus: [0, 1], memoryBytes: 1 << 30), .init(id: 1, cpus: Array(2..<8), memoryBytes: 1 << 30)],
      distances: [[10, 20], [20, 10]])
    let plan = try PlacementPlan(topology: lopsided, threads: 6)
    #expect(plan.nodeOfThread == [0, 0, 1, 1, 1, 1])
    #expect(plan.cpuOfThread == [0, 1, 2, 3, 4, 5])
  }

  @Test(arguments: [0, 17, -1])
  func threadCountsOutsideTheMachineAreRefused(threads: Int) throws {
    let error = try #require(throws: RuntimeError.self) {
      try PlacementPlan(topology: TopologyFixtures.twoNode, threads: threads)
    }
    #expect(error.description == "threads: \(threads) requested, the topology has 16 CPUs (choose 1...16)")
  }

  @Test(arguments: ["two-node", "four-node", "eight-node"])
  func everyThreadCountUsesDistinctCPUsOfItsOwnNode(name: String) throws {
    let topology = try TopologyFixtures.load(name)
    for threads in 1...topology.cpuCount {
      let plan = try PlacementPlan(topology: topology, threads: threads)
      #expect(Set(plan.cpuOfThread).count == threads)
      #expect(plan.nodeOfThread == plan.nodeOfThread.sorted())
      for thread in 0..<threads {
        #expect(topology.nodes[plan.nodeOfThread[thread]].cpus.contains(plan.cpuOfThread[thread]))
      }
      let counts = plan.nodesInUse.map { plan.threads(onNode: $0).count }
      #expect(counts.max()! - counts.min()! <= 1, "\(name), \(threads) threads: \(counts)")
    }
  }

  // MARK: Rows

  @Test func threadRangeIsKilnThreadRange() {
    // kiln_thread_range(10, t, 4): base 2, extra 2 → the first two threads take one more row.
    #expect((0..<4).map { PlacementPlan.threadRange(count: 10, thread: $0, threads: 4) } == [0..<3, 3..<6, 6..<8, 8..<10])
    #expect((0..<4).map { PlacementPlan.threadRange(count: 3, thread: $0, threads: 4) } == [0..<1, 1..<2, 2..<3, 3..<3])
    for count in [0, 1, 7, 97, 1024] {
      for threads in [1, 2, 3, 5, 16] {
        let ranges = (0..<threads).map { PlacementPlan.threadRange(count: count, thread: $0, threads: threads) }
        #expect(ranges.first!.lowerBound == 0 && ranges.last!.upperBound == count)
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        let sizes = ranges.map(\.count)
        #expect(sizes == sizes.sorted(by: >) && sizes.max()! - sizes.min()! <= 1)
      }
    }
  }

  @Test func rowsOfABufferBelongToTheNodeOfTheThreadsThatWriteThem() throws {
    // 100 rows over 16 threads: base 6, extra 4 → threads 0-3 take 7 rows, so node 0 owns 4·7 + 4·6 = 52.
    let two = try PlacementPlan(topology: TopologyFixtures.twoNode)
    #expect(two.rows(ofThread: 3, count: 100) == 21..<28)
    #expect(two.rows(ofThread: 4, count: 100) == 28..<34)
    #expect(two.rowOwnership(count: 100) == [NodeRows(node: 0, rows: 0..<52), NodeRows(node: 1, rows: 52..<100)])

    // 37 rows over 12 threads on 8 nodes (2,2,2,2,1,1,1,1): base 3, extra 1.
    let eight = try PlacementPlan(topology: TopologyFixtures.eightNode, threads: 12)
    #expect(eight.rowOwnership(count: 37).map(\.rows) == [0..<7, 7..<13, 13..<19, 19..<25, 25..<28, 28..<31, 31..<34, 34..<37])

    // One thread per node, 10 rows: nodes 0 and 1 get 3 rows, 2 and 3 get 2.
    let onePerNode = try PlacementPlan(topology: TopologyFixtures.fourNode, threads: 4)
    #expect(onePerNode.rowOwnership(count: 10).map(\.rows) == [0..<3, 3..<6, 6..<8, 8..<10])
    #expect(onePerNode.rows(ofNode: 2, count: 10) == 6..<8)

    // 16 threads, 10 rows: threads 0-9 take one row each, so node 3 (threads 12-15) owns none.
    let full = try PlacementPlan(topology: TopologyFixtures.fourNode)
    #expect(full.rowOwnership(count: 10).map(\.rows) == [0..<4, 4..<8, 8..<10, 10..<10])
  }

  @Test(arguments: ["two-node", "four-node", "eight-node"])
  func nodeRowsAreTheUnionOfTheirThreadsRows(name: String) throws {
    let topology = try TopologyFixtures.load(name)
    for threads in [1, topology.nodes.count + 1, topology.cpuCount] {
      let plan = try PlacementPlan(topology: topology, threads: threads)
      for count in [1, 13, 1000] {
        for row in 0..<count {
          let thread = (0..<threads).first { plan.rows(ofThread: $0, count: count).contains(row) }!
          let owner = plan.rowOwnership(count: count).first { $0.rows.contains(row) }
          #expect(owner?.node == plan.nodeOfThread[thread])
        }
      }
    }
  }

  // MARK: Weights and activations

  @Test func replicateGivesEachNodeACopyThatItsThreadsRead() throws {
    let plan = try PlacementPlan(topology: TopologyFixtures.fourNode, threads: 8, policy: .replicate)
    #expect(plan.weightPlacement == .replicated(copies: 4))
    #expect(plan.weightCopyCount == 4)
    #expect((0..<4).map { plan.placement(ofWeightCopy: $0) } == [.node(0), .node(1), .node(2), .node(3)])
    #expect((0..<8).map { plan.weightCopy(forThread: $0) } == [0, 0, 1, 1, 2, 2, 3, 3])
    #expect(plan.activationPlacement == .firstTouch)
  }

  @Test func replicateWithFewerThreadsThanNodesStillCopiesToEveryNode() throws {
    let plan = try PlacementPlan(topology: TopologyFixtures.eightNode, threads: 3, policy: .replicate)
    #expect(plan.weightCopyCount == 8)
    #expect((0..<3).map { plan.weightCopy(forThread: $0) } == [0, 1, 2])
  }

  @Test func interleaveSpreadsWeightsAndActivationsOverEveryNode() throws {
    let plan = try PlacementPlan(topology: TopologyFixtures.eightNode, policy: .interleave)
    #expect(plan.weightPlacement == .interleaved(nodes: Array(0..<8)))
    #expect(plan.weightCopyCount == 1)
    #expect(plan.placement(ofWeightCopy: 0) == .interleaved(Array(0..<8)))
    #expect(plan.activationPlacement == .interleaved(Array(0..<8)))
    #expect((0..<32).allSatisfy { plan.weightCopy(forThread: $0) == 0 })
  }

  @Test func localPutsWeightsOnThePackingThreadsNode() throws {
    let topology = try TopologyFixtures.twoNode
    let byThreadZero = try PlacementPlan(topology: topology, policy: .local)
    #expect(byThreadZero.weightPlacement == .single(node: 0))
    #expect(byThreadZero.placement(ofWeightCopy: 0) == .node(0))
    #expect(byThreadZero.activationPlacement == .firstTouch)
    let byThreadTwelve = try PlacementPlan(topology: topology, policy: .local, packingThread: 12)
    #expect(byThreadTwelve.weightPlacement == .single(node: 1))
    #expect((0..<16).allSatisfy { byThreadTwelve.weightCopy(forThread: $0) == 0 })
    #expect(throws: RuntimeError.self) { try PlacementPlan(topology: topology, threads: 4, packingThread: 4) }
  }
}
