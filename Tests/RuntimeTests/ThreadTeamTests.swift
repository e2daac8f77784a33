import CNUMA
import Foundation
import KilnTestSupport
import Runtime
import Synchronization
import Testing

/// Tests that start threads or measure the process's memory, run one at a time so that thread and
/// memory counts are not disturbed by a sibling test's team or arena.
@Suite(.serialized, .machineExclusive) enum MachineTests {}

/// This machine has 2 CPUs: teams here have at most 2 threads.
extension MachineTests {
  @Suite struct ThreadTeamTests {
    static func plan(threads: Int? = nil, policy: NUMAPolicy = .local) throws -> PlacementPlan {
      let topology = try Topology.current()
      return try PlacementPlan(topology: topology, threads: min(threads ?? 2, topology.cpuCount), policy: policy)
    }

    /// The CPUs the calling thread may run on, asked of the kernel.
    static func affinityOfCurrentThread() -> [Int] {
      guard let mask = numa_allocate_cpumask() else { return [] }
      defer { numa_bitmask_free(mask) }
      guard numa_sched_getaffinity(0, mask) >= 0 else { return [] }
      return (0..<Int(mask.pointee.size)).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 }
    }

    @Test func everyThreadCallsTheBodyOnceWithItsID() throws {
      let team = try ThreadTeam(plan: Self.plan())
      let calls = Mutex([Int]())
      team.run { thread in calls.withLock { $0.append(thread) } }
      #expect(calls.withLock { $0.sorted() } == Array(0..<team.threadCount))
    }

    @Test func eachThreadRunsPinnedToItsPlannedCPU() throws {
      let team = try ThreadTeam(plan: Self.plan())
      let affinity = Mutex([Int: [Int]]())
      team.run { thread in
        let cpus = Self.affinityOfCurrentThread()
        affinity.withLock { $0[thread] = cpus }
      }
      for thread in 0..<team.threadCount {
        #expect(affinity.withLock { $0[thread] } == [team.plan.cpuOfThread[thread]])
      }
    }

    @Test func theCConventionBodyReceivesTheContextAndTheThreadID() throws {
      let team = try ThreadTeam(plan: Self.plan())
      var slots = [Int32](repeating: -1, count: team.threadCount)
      slots.withUnsafeMutableBufferPointer { buffer in
        team.run({ context, thread in
          context!.assumingMemoryBound(to: Int32.self)[Int(thread)] = thread * 10 + 7
        }, context: UnsafeMutableRawPointer(buffer.baseAddress))
      }
      #expect(slots == (0..<Int32(team.threadCount)).map { $0 * 10 + 7 })
    }

    @Test func backToBackRunsAndRunsAfterIdlingAllComplete() throws {
      let team = try ThreadTeam(plan: Self.plan())
      let total = Atomic<Int>(0)
      for round in 0..<2_000 {
        team.run { thread in total.add(thread + 1, ordering: .relaxed) }
        if round % 500 == 499 { usleep(30_000) }  // long enough for the workers to stop spinning and block
      }
      let perRun = team.threadCount * (team.threadCount + 1) / 2
      #expect(total.load(ordering: .relaxed) == 2_000 * perRun)
    }

    @Test func theBarrierHoldsEveryThreadUntilAllArrive() throws {
      let team = try ThreadTeam(plan: Self.plan())
      let threads = team.threadCount
      let barrier = try TeamBarrier(threadCount: threads)
      let phases = 500
      let slots = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
      defer { slots.deallocate() }
      slots.initialize(repeating: -1)
      let mismatches = Atomic<Int>(0)
      team.run { thread in
        for phase in 0..<phases {
          slots[thread] = phase
          barrier.wait()
          // After the barrier every thread has written this phase; before the next one nobody writes.
          for other in 0..<threads where slots[other] != phase { mismatches.add(1, ordering: .relaxed) }
          barrier.wait()
        }
      }
      #expect(mismatches.load(ordering: .relaxed) == 0)
    }

    @Test func aBarrierOfZeroThreadsIsRefused() {
      #expect(throws: RuntimeError.self) { try TeamBarrier(threadCount: 0) }
    }

    @Test func aCPUOutsideTheAffinityMaskIsRefusedAndNoThreadIsLeft() throws {
      let before = try ProcessStatus.threads
      let unreachable = try Topology(nodes: [.init(id: 0, cpus: [4000], memoryBytes: 1 << 30)], distances: [[10]])
      let error = try #require(throws: RuntimeError.self) {
        try ThreadTeam(plan: PlacementPlan(topology: unreachable))
      }
      #expect(error.description.hasPrefix("threads: cannot pin thread 0 to CPU 4000"))
      #expect(try ProcessStatus.threads <= before)
    }

    @Test func shutdownJoinsEveryThreadAndLaterRunsDoNothing() throws {
      let team = try ThreadTeam(plan: Self.plan())
      #expect(try ProcessStatus.threadNames.filter { $0.hasPrefix(ThreadTeam.threadNamePrefix) }.count == team.threadCount)
      team.shutdown()
      team.shutdown()
      #expect(try ProcessStatus.threadNames.filter { $0.hasPrefix(ThreadTeam.threadNamePrefix) }.isEmpty)
      let calls = Atomic<Int>(0)
      team.run { _ in calls.add(1, ordering: .relaxed) }
      #expect(calls.load(ordering: .relaxed) == 0)
    }

    @Test func aHundredCreateRunDestroyCyclesLeaveThreadsAndMemoryWhereTheyWere() throws {
      let plan = try Self.plan()
      func cycle() throws {
        let team = try ThreadTeam(plan: plan)
        let sum = Atomic<Int>(0)
        team.run { thread in sum.add(thread, ordering: .relaxed) }
        #expect(sum.load(ordering: .relaxed) == (0..<plan.threadCount).reduce(0, +))
      }
      try cycle()  // warm up: the first team grows the allocator's caches once
      let threadsBefore = try ProcessStatus.threads
      let residentBefore = try ProcessStatus.residentKiB
      for _ in 0..<100 { try cycle() }
      let threadsAfter = try ProcessStatus.threads
      let residentAfter = try ProcessStatus.residentKiB
      #expect(try ProcessStatus.threadNames.filter { $0.hasPrefix(ThreadTeam.threadNamePrefix) }.isEmpty)
      // Not more: the runtime's own threads are gone (the test harness may retire idle workers of its own).
      #expect(threadsAfter <= threadsBefore, "Threads: \(threadsBefore) → \(threadsAfter)")
      #expect(residentAfter - residentBefore < 4 << 10, "VmRSS: \(residentBefore) kB → \(residentAfter) kB")
    }

    // MARK: First touch

    @Test func firstTouchZeroFillsEveryRegionAndPlacesItsPagesOnTheOwnersNode() throws {
      let plan = try Self.plan(policy: .local)
      let team = try ThreadTeam(plan: plan)
      let pageSize = Arena.pageSize
      let regions = [ArenaRegion(offset: 0, rows: 37, rowBytes: pageSize), ArenaRegion(offset: 40 * pageSize, rows: 11, rowBytes: 3 * pageSize)]
      let arena = try Arena.activations(byteCount: 80 * pageSize, plan: plan)
      #expect(arena.placement == .firstTouch)
      #expect(try arena.pageLocations().allSatisfy { $0 == .notPresent })
      try team.firstTouch(arena, regions: regions)
      let locations = try arena.pageLocations()
      for region in regions {
        for owner in plan.rowOwnership(count: region.rows) {
          let bytes = (region.offset + owner.rows.lowerBound * region.rowBytes)..<(region.offset + owner.rows.upperBound * region.rowBytes)
          for page in bytes.lowerBound / pageSize..<bytes.upperBound / pageSize {
            #expect(locations[page] == .node(owner.node), "page \(page)")
          }
          let zero = UnsafeRawBufferPointer(start: arena.base.advanced(by: bytes.lowerBound), count: bytes.count)
          #expect(zero.allSatisfy { $0 == 0 })
        }
      }
      // The gap between the regions was never touched.
      #expect(locations[37..<40].allSatisfy { $0 == .notPresent })
    }

    @Test func firstTouchOverwritesWhatWasThere() throws {
      let plan = try Self.plan()
      let team = try ThreadTeam(plan: plan)
      let arena = try Arena.activations(byteCount: 1 << 16, plan: plan)
      memset(arena.base, 0xFF, arena.byteCount)
      try team.firstTouch(arena, regions: [ArenaRegion(offset: 64, rows: 13, rowBytes: 100)])
      let bytes = UnsafeRawBufferPointer(start: arena.base, count: arena.byteCount)
      #expect(bytes[0..<64].allSatisfy { $0 == 0xFF })
      #expect(bytes[64..<1364].allSatisfy { $0 == 0 })
      #expect(bytes[1364...].allSatisfy { $0 == 0xFF })
    }

    @Test func aRegionOutsideTheArenaIsRefused() throws {
      let plan = try Self.plan()
      let team = try ThreadTeam(plan: plan)
      let arena = try Arena.activations(byteCount: 4096, plan: plan)
      #expect(throws: RuntimeError.self) { try team.firstTouch(arena, regions: [ArenaRegion(offset: 0, rows: 2, rowBytes: 4096)]) }
    }
  }
}
