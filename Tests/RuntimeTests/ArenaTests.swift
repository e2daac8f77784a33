import Foundation
import Runtime
import Testing

/// Arenas on this machine; where a test needs the team to touch pages it lives in ThreadTeamTests.
extension MachineTests {
  @Suite struct ArenaTests {
    @Test(arguments: [1, 4096, 100_003, 3 << 20])
    func arenasAreAlignedForEveryKernelAndForHugePages(bytes: Int) throws {
      let arena = try Arena(byteCount: bytes, placement: .firstTouch, topology: Topology.current())
      #expect(Int(bitPattern: arena.base) % 64 == 0)
      #expect(arena.byteCount >= bytes && arena.byteCount % Arena.pageSize == 0)
      if bytes >= Arena.hugePageBytes { #expect(Int(bitPattern: arena.base) % Arena.hugePageBytes == 0) }
      // Every byte is writable and reads back.
      memset(arena.base, 0x5A, arena.byteCount)
      #expect(arena.base.load(fromByteOffset: arena.byteCount - 1, as: UInt8.self) == 0x5A)
    }

    @Test func untouchedPagesAreNotPresentUntilWritten() throws {
      let arena = try Arena(byteCount: 8 * Arena.pageSize, placement: .firstTouch, topology: Topology.current())
      #expect(try arena.pageLocations() == Array(repeating: .notPresent, count: 8))
      arena.base.storeBytes(of: 1, toByteOffset: 3 * Arena.pageSize, as: UInt8.self)
      let locations = try arena.pageLocations()
      #expect(locations[3] == .node(0))
      #expect(locations.enumerated().allSatisfy { $0.offset == 3 || $0.element == .notPresent })
    }

    @Test(arguments: NUMAPolicy.allCases)
    func weightCopiesLiveWhereThePlanSays(policy: NUMAPolicy) throws {
      let plan = try PlacementPlan(topology: Topology.current(), policy: policy)
      let copies = try Arena.weights(byteCount: 5 * Arena.pageSize + 17, plan: plan)
      #expect(copies.count == plan.weightCopyCount)
      for (copy, arena) in copies.enumerated() {
        #expect(arena.placement == plan.placement(ofWeightCopy: copy))
        memset(arena.base, 0x3C, arena.byteCount)  // packing writes every byte
        let expected: Set<Int> = switch arena.placement {
        case .node(let node): [node]
        case .interleaved(let nodes): Set(nodes)
        case .firstTouch: [0]
        }
        for location in try arena.pageLocations() {
          guard case .node(let node) = location else {
            Issue.record("copy \(copy): page reported \(location)")
            continue
          }
          #expect(expected.contains(node), "copy \(copy): page on node \(node), plan says \(expected)")
        }
      }
    }

    @Test func aNodeOutsideTheTopologyIsRefused() throws {
      let error = try #require(throws: RuntimeError.self) {
        try Arena(byteCount: 4096, placement: .node(3), topology: Topology.current())
      }
      #expect(error.description.contains("node index 3"))
    }

    @Test func bindingToANodeThisMachineLacksFailsWithTheSystemsReason() throws {
      // A topology file that claims node 63 exists: mbind must refuse it, and the error says so.
      let claimed = try Topology(nodes: [.init(id: 63, cpus: [0], memoryBytes: 1 << 30)], distances: [[10]])
      let error = try #require(throws: RuntimeError.self) {
        try Arena(byteCount: 4096, placement: .node(0), topology: claimed)
      }
      #expect(error.description.hasPrefix("arena: mbind to nodes [63] failed"))
    }

    @Test func anArenaGivesItsMemoryBackWhenItGoes() throws {
      let bytes = 64 << 20
      let before = try ProcessStatus.residentKiB
      do {
        let arena = try Arena(byteCount: bytes, placement: .firstTouch, topology: Topology.current())
        memset(arena.base, 1, arena.byteCount)
        #expect(try ProcessStatus.residentKiB - before > (bytes >> 10) * 9 / 10)
      }
      #expect(try ProcessStatus.residentKiB - before < 4 << 10)
    }

    @Test func pageQueriesOutsideTheArenaAreRefused() throws {
      let arena = try Arena(byteCount: 4096, placement: .firstTouch, topology: Topology.current())
      #expect(throws: RuntimeError.self) { try arena.pageLocations(bytes: 0..<(arena.byteCount + 1)) }
    }
  }
}
