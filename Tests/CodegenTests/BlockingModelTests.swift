import Testing

@testable import Codegen

@Suite("BLIS blocking model")
struct BlockingModelTests {
  typealias Caches = HardwareProfile.Caches
  let tiles = [HardwareProfile.MicroKernel(mr: 14, nr: 32), .init(mr: 6, nr: 16), .init(mr: 8, nr: 12), .init(mr: 4, nr: 16)]
  let cacheSets = [
    Caches(l1d: 32 << 10, l2: 256 << 10, l3: 8 << 20), Caches(l1d: 48 << 10, l2: 1 << 20, l3: 32 << 20),
    Caches(l1d: 64 << 10, l2: 2 << 20, l3: 96 << 20), Caches(l1d: 32 << 10, l2: 1 << 20, l3: 0),
  ]

  @Test func blocksAreMultiplesOfTheMicroKernelAndFitTheirCaches() {
    for tile in tiles {
      for caches in cacheSets {
        let b = BlockingModel.blocking(caches: caches, microKernel: tile)
        #expect(b.kc % 8 == 0 && b.mc % tile.mr == 0 && b.nc % tile.nr == 0, "\(tile) \(caches) → \(b)")
        let paperKC = min(caches.l1d / 2 / (tile.nr * 4), caches.l1d * 3 / 4 / ((tile.mr + tile.nr) * 4)) / 8 * 8
        #expect(b.kc * tile.nr * 4 <= caches.l1d, "B micro-panel exceeds L1: \(tile) \(caches) → \(b)")
        #expect(b.kc >= paperKC && (b.kc == paperKC || b.kc <= BlockingModel.kcFloor), "KC raised past the floor: \(b)")
        #expect(b.mc * b.kc * 4 <= caches.l2 / 2, "packed A exceeds half of L2: \(tile) \(caches) → \(b)")
        #expect(b.kc * b.nc * 4 <= caches.l2, "the KC×NC block of B exceeds L2: \(tile) \(caches) → \(b)")
      }
    }
  }

  @Test func eachBlockGrowsWithItsCache() {
    for tile in tiles {
      var previous = HardwareProfile.Blocking(kc: 0, mc: 0, nc: 0)
      for l1 in stride(from: 16 << 10, through: 128 << 10, by: 8 << 10) {
        let b = BlockingModel.blocking(caches: Caches(l1d: l1, l2: 8 << 20, l3: 64 << 20), microKernel: tile)
        #expect(b.kc >= previous.kc, "KC fell when L1 grew to \(l1)")
        previous = b
      }
      previous = .init(kc: 0, mc: 0, nc: 0)
      for l2 in stride(from: 256 << 10, through: 4 << 20, by: 128 << 10) {
        let b = BlockingModel.blocking(caches: Caches(l1d: 32 << 10, l2: l2, l3: 64 << 20), microKernel: tile)
        #expect(b.mc >= previous.mc && b.kc == BlockingModel.sharedDimension(l1d: 32 << 10, microKernel: tile), "MC fell at L2 \(l2)")
        previous = b
      }
      previous = .init(kc: 0, mc: 0, nc: 0)
      for l3 in stride(from: 4 << 20, through: 128 << 20, by: 4 << 20) {
        let b = BlockingModel.blocking(caches: Caches(l1d: 32 << 10, l2: 1 << 20, l3: l3), microKernel: tile)
        #expect(b.nc >= previous.nc, "NC fell at L3 \(l3)")
        #expect(b.nc == previous.nc || previous.nc == 0, "NC depends on L2 only, not on L3 \(l3)")
        previous = b
      }
      let small = BlockingModel.blocking(caches: Caches(l1d: 32 << 10, l2: 256 << 10, l3: 8 << 20), microKernel: tile)
      let large = BlockingModel.blocking(caches: Caches(l1d: 64 << 10, l2: 2 << 20, l3: 64 << 20), microKernel: tile)
      #expect(large.kc >= small.kc && large.mc > small.mc && large.nc > small.nc, "\(tile): \(small) vs \(large)")
    }
  }

  @Test func givesBLISHaswellKCForSixBySixteenInThirtyTwoKiB() {
    let b = BlockingModel.blocking(caches: Caches(l1d: 32 << 10, l2: 256 << 10, l3: 8 << 20), microKernel: .init(mr: 6, nr: 16))
    #expect(b.kc == 256)
  }

  @Test func builtinProfilesStoreTheBlockingTheModelDerives() throws {
    for profile in try HardwareProfile.builtins() {
      #expect(BlockingModel.blocking(caches: profile.caches, microKernel: profile.microKernel) == profile.blocking, "\(profile.name)")
    }
  }

  @Test func builtinMicroKernelsFitTheirRegisterFiles() throws {
    for profile in try HardwareProfile.builtins() {
      let tile = profile.microKernel
      #expect(tile.nr % profile.vectorWidth == 0, "\(profile.name): NR not a whole number of vectors")
      let accumulators = tile.mr * tile.nr / profile.vectorWidth
      let bVectors = tile.nr / profile.vectorWidth
      #expect(accumulators + bVectors + 1 <= profile.vectorRegisters, "\(profile.name): \(accumulators) accumulators")
      #expect(accumulators >= 4 * profile.fmaUnitsPerCore, "\(profile.name): too few chains to hide FMA latency")
    }
  }
}
