import Codegen
import Foundation
import KilnTestSupport
import Runtime
import Testing
import Tracer

/// A module cache in a fresh temporary folder, so tests neither read nor fill the user's cache.
func temporaryModuleCache() throws -> ModuleCache {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-runtime-modules-\(UUID().uuidString)")
  return ModuleCache(directory: folder, compiler: try CCompiler.locate())
}

/// The cache the executor tests share: one compile of each hand-written module per test run.
let sharedModuleCache = Result { try temporaryModuleCache() }

extension MachineTests {
  @Suite struct CompiledExecutorTests {
    static let threadCounts = [1, 2]

    static func threads(_ wanted: Int) throws -> Int { min(wanted, try Topology.current().cpuCount) }

    @Test(arguments: threadCounts)
    func handWrittenLinearMatchesTheDoubleReference(threads: Int) throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"))
      let seed: UInt64 = 0x51A7 + UInt64(threads)
      let (weights, inputs) = try HandWrittenPrograms.Linear.feeds(seed: seed)
      let executor = try CompiledExecutor(
        program: linear.program, weights: weights, threads: Self.threads(threads), cache: sharedModuleCache.get())
      #expect(executor.name == "compiled")
      let outputs = try executor.run(inputs)
      let y = try #require(outputs["y"])
      #expect(y.shape == [HandWrittenPrograms.Linear.rows, HandWrittenPrograms.Linear.outFeatures])
      let error = relativeError(y.floats.map(Double.init), HandWrittenPrograms.Linear.reference(weights: weights, inputs: inputs))
      #expect(error < float32Tolerance, "relative error \(error), seed \(seed)")
    }

    @Test func aSecondRunWithOtherInputsGivesTheirResult() throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"))
      let (weights, first) = try HandWrittenPrograms.Linear.feeds(seed: 11)
      let (_, second) = try HandWrittenPrograms.Linear.feeds(seed: 12)
      let executor = try CompiledExecutor(program: linear.program, weights: weights, threads: Self.threads(2), cache: sharedModuleCache.get())
      _ = try executor.run(first)
      let y = try #require(try executor.run(second)["y"])
      let error = relativeError(y.floats.map(Double.init), HandWrittenPrograms.Linear.reference(weights: weights, inputs: second))
      #expect(error < float32Tolerance)
    }

    @Test(arguments: NUMAPolicy.allCases)
    func everyNUMAPolicyGivesTheSameResult(policy: NUMAPolicy) throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"))
      let (weights, inputs) = try HandWrittenPrograms.Linear.feeds(seed: 21)
      let executor = try CompiledExecutor(
        program: linear.program, weights: weights, threads: Self.threads(2), policy: policy, cache: sharedModuleCache.get())
      let y = try #require(try executor.run(inputs)["y"])
      let error = relativeError(y.floats.map(Double.init), HandWrittenPrograms.Linear.reference(weights: weights, inputs: inputs))
      #expect(error < float32Tolerance, "policy \(policy)")
    }

    @Test func theNaiveModeIsNamedNaive() throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"), mode: .naive)
      let (weights, inputs) = try HandWrittenPrograms.Linear.feeds(seed: 31)
      let executor = try CompiledExecutor(program: linear.program, weights: weights, threads: 1, cache: sharedModuleCache.get())
      #expect(executor.name == "naive")
      let y = try #require(try executor.run(inputs)["y"])
      #expect(relativeError(y.floats.map(Double.init), HandWrittenPrograms.Linear.reference(weights: weights, inputs: inputs)) < float32Tolerance)
    }

    @Test func anIndexInputIsCopiedAsInt32AndSelectsTheTableRows() throws {
      let (ids, rows, width) = (13, 7, 5)
      let program = try HandWrittenPrograms.embeddingLookup(profile: HardwareProfile.named("native"), ids: ids, rows: rows, width: width)
      var rng = SplitMix64(seed: 91)
      let table = (0..<rows * width).map { _ in Float.random(in: -1...1, using: &rng) }
      let indices = (0..<ids).map { _ in Int32.random(in: 0..<Int32(rows), using: &rng) }
      let executor = try CompiledExecutor(
        program: program, weights: ["table": RuntimeTensor(shape: [rows, width], floats: table)], threads: Self.threads(2),
        cache: sharedModuleCache.get())
      let y = try #require(try executor.run(["ids": RuntimeTensor(shape: [ids], storage: .i32(indices))])["y"])
      #expect(y.floats == indices.flatMap { table[Int($0) * width..<(Int($0) + 1) * width] })
    }

    @Test func kernelTimingFillsOneNonNegativeTimePerKernel() throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"))
      let (weights, inputs) = try HandWrittenPrograms.Linear.feeds(seed: 41)
      let executor = try CompiledExecutor(program: linear.program, weights: weights, threads: Self.threads(2), cache: sharedModuleCache.get())
      #expect(executor.lastKernelSeconds == nil)
      try executor.enableKernelTiming()
      _ = try executor.run(inputs)
      let seconds = try #require(executor.lastKernelSeconds)
      #expect(seconds.count == linear.program.kernels.count)
      #expect(seconds.allSatisfy { $0 > 0 && $0 < 10 })
    }

    // MARK: Refusals

    @Test func aMissingWeightIsRefusedNamingTheTensor() throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"))
      var (weights, _) = try HandWrittenPrograms.Linear.feeds(seed: 51)
      weights["fc.bias"] = nil
      let error = try #require(throws: RuntimeError.self) {
        try CompiledExecutor(program: linear.program, weights: weights, threads: 1, cache: sharedModuleCache.get())
      }
      #expect(error.description == "weights: tensor 'fc.bias' is missing, the model needs [19]")
    }

    @Test func aWeightOfTheWrongShapeIsRefusedNamingTheTensorAndBothShapes() throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"))
      var (weights, _) = try HandWrittenPrograms.Linear.feeds(seed: 52)
      weights["fc.weight"] = try RuntimeTensor(shape: [19, 36], floats: [Float](repeating: 0.5, count: 19 * 36))
      let error = try #require(throws: RuntimeError.self) {
        try CompiledExecutor(program: linear.program, weights: weights, threads: 1, cache: sharedModuleCache.get())
      }
      #expect(error.description == "weights: tensor 'fc.weight' has shape [19, 36], the model needs [19, 37]")
    }

    @Test func inputsAreCheckedByNameShapeAndDType() throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"))
      let (weights, inputs) = try HandWrittenPrograms.Linear.feeds(seed: 53)
      let executor = try CompiledExecutor(program: linear.program, weights: weights, threads: 1, cache: sharedModuleCache.get())
      let missing = try #require(throws: RuntimeError.self) { try executor.run([:]) }
      #expect(missing.description.contains("input 'x' is missing"))
      let unknown = try #require(throws: RuntimeError.self) { try executor.run(inputs.merging(["z": inputs["x"]!]) { $1 }) }
      #expect(unknown.description.contains("input 'z' is not an input"))
      let wrongShape = try #require(throws: RuntimeError.self) {
        try executor.run(["x": RuntimeTensor(shape: [5, 36], floats: [Float](repeating: 1, count: 180))])
      }
      #expect(wrongShape.description == "input 'x' has shape [5, 36], hand-linear needs [5, 37]")
      let wrongType = try #require(throws: RuntimeError.self) {
        try executor.run(["x": RuntimeTensor(shape: [5, 37], storage: .i32([Int32](repeating: 1, count: 185)))])
      }
      #expect(wrongType.description == "input 'x' is i32, hand-linear needs f32")
    }

    @Test func aProfileTheHostCannotRunIsRefusedBeforeAnythingIsCompiledOrLoaded() throws {
      var profile = try HardwareProfile.named("native")
      profile.requiredFeatures.append("kiln_imaginary_feature")
      let linear = try HandWrittenPrograms.Linear(profile: profile, name: "unrunnable")
      let cache = try temporaryModuleCache()
      let (weights, _) = try HandWrittenPrograms.Linear.feeds(seed: 61)
      let error = try #require(throws: (any Error).self) {
        try CompiledExecutor(program: linear.program, weights: weights, threads: 1, cache: cache)
      }
      let message = String(describing: error)
      #expect(message.contains("kiln_imaginary_feature"), "\(message)")
      #expect(!message.contains("\n"))
      #expect(!FileManager.default.fileExists(atPath: cache.directory.path), "nothing was compiled")
    }

    @Test func aModuleMissingAnEntryPointIsRefusedNamingIt() throws {
      let program = HandWrittenPrograms.bare(profile: try HardwareProfile.named("native"), missing: "kiln_pack_weight")
      let error = try #require(throws: RuntimeError.self) { try LoadedModule(program: program, cache: sharedModuleCache.get()) }
      #expect(error.description.contains("does not export kiln_pack_weight"))
    }

    @Test func aModuleOfAnotherABIVersionIsRefused() throws {
      let program = HandWrittenPrograms.bare(profile: try HardwareProfile.named("native"), version: 2)
      let error = try #require(throws: RuntimeError.self) { try LoadedModule(program: program, cache: sharedModuleCache.get()) }
      #expect(error.description.contains("speaks module ABI version 2, this runtime speaks 1"))
    }

    @Test func aCompleteModuleOfVersionOneLoads() throws {
      let module = try LoadedModule(program: HandWrittenPrograms.bare(profile: try HardwareProfile.named("native")), cache: sharedModuleCache.get())
      #expect(module.weightCount == 0)
      #expect(module.arenaBytes == 64)
    }

    // MARK: The cache

    @Test func aDamagedCachedModuleIsRebuiltAndRuns() throws {
      let cache = try temporaryModuleCache()
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"), name: "damaged")
      let (weights, inputs) = try HandWrittenPrograms.Linear.feeds(seed: 71)
      let path: URL
      do {
        let first = try LoadedModule(program: linear.program, cache: cache)
        #expect(!first.compiled.cacheHit)
        path = first.compiled.path
      }
      #expect(try LoadedModule(program: linear.program, cache: cache).compiled.cacheHit)
      // Truncate the shared object: loading it as is would fail or crash.
      let handle = try FileHandle(forWritingTo: path)
      try handle.truncate(atOffset: 100)
      try handle.close()
      let executor = try CompiledExecutor(program: linear.program, weights: weights, threads: 1, cache: cache)
      #expect(!executor.module.compiled.cacheHit)
      let y = try #require(try executor.run(inputs)["y"])
      #expect(relativeError(y.floats.map(Double.init), HandWrittenPrograms.Linear.reference(weights: weights, inputs: inputs)) < float32Tolerance)
    }

    // MARK: Leaks

    @Test func aHundredLoadRunUnloadCyclesLeaveMemoryAndThreadsWhereTheyWere() throws {
      let linear = try HandWrittenPrograms.Linear(profile: HardwareProfile.named("native"), name: "cycles")
      let (weights, inputs) = try HandWrittenPrograms.Linear.feeds(seed: 81)
      let cache = try sharedModuleCache.get()
      let threads = try Self.threads(2)
      func cycle() throws {
        let executor = try CompiledExecutor(program: linear.program, weights: weights, threads: threads, policy: .replicate, cache: cache)
        try executor.enableKernelTiming()
        _ = try executor.run(inputs)
      }
      try cycle()  // warm up: compiles once and grows the allocator's caches
      try cycle()
      let residentBefore = try ProcessStatus.residentKiB
      for _ in 0..<100 { try cycle() }
      let residentAfter = try ProcessStatus.residentKiB
      #expect(try ProcessStatus.threadNames.filter { $0.hasPrefix(ThreadTeam.threadNamePrefix) }.isEmpty)
      #expect(residentAfter - residentBefore < 4 << 10, "VmRSS: \(residentBefore) kB → \(residentAfter) kB")
    }
  }
}
