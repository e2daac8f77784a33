import Codegen
import Foundation
import Runtime
import Testing

extension MachineTests {
  @Suite struct ResidentMemoryTests {
    @Test func residentSetAndHighWaterMarkAreReadFromProcStatus() throws {
      let status = "Name:\tkiln\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t3\n"
      #expect(ResidentMemory.parse(status: status) == ResidentMemory.Reading(residentBytes: 1 << 20, peakBytes: 2 << 20))
      #expect(ResidentMemory.parse(status: "Name:\tkiln\nVmRSS:\t12 kB\n") == nil)
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/clear_refs"), "needs Linux's /proc/self/clear_refs"))
    func aPeakWindowSeesMemoryTouchedAndFreedInside() throws {
      let window = try #require(ResidentMemory.PeakWindow.open())
      let bytes = 64 << 20
      do {
        let block = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        defer { block.deallocate() }
        block.initializeMemory(as: UInt8.self, repeating: 1, count: bytes)
      }
      // Freed again before the reading: only the high-water mark remembers it (other tests may add more).
      let added = try #require(window.addedPeakBytes())
      #expect(added >= bytes - (1 << 20), "added \(added) bytes")
    }

    @Test func theExecutorReportsItsPackedWeightsAndArena() throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"))
      let (weights, _) = try HandWrittenPrograms.Linear.feeds(seed: 5)
      let executor = try CompiledExecutor(program: linear.program, weights: weights, threads: 1, cache: sharedModuleCache.get())
      let floats = (0..<executor.module.weightCount).map(executor.module.packedWeightFloats).reduce(0, +)
      // Each weight 64-byte aligned, the arena whole pages.
      let slack = 64 * executor.module.weightCount + Arena.pageSize
      #expect(executor.packedWeightBytes >= floats * 4 && executor.packedWeightBytes < floats * 4 + slack)
      #expect(executor.packedWeightBytes % Arena.pageSize == 0)
      #expect(executor.arenaBytes >= linear.program.arenaBytes && executor.arenaBytes % Arena.pageSize == 0)
    }
  }
}
