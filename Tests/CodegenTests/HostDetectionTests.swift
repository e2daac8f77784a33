import Foundation
import Testing

@testable import Codegen

@Suite("Host detection and profile resolution")
struct HostDetectionTests {
  @Test func readsAnAVX2OnlyIntelAndPicksTheAVX2Profile() throws {
    let host = try HostDetection.host(cpuinfo: HostFixtures.intelAVX2CPUInfo, online: "0-11\n", caches: HostFixtures.intelAVX2Caches)
    #expect(host.isa == .x86_64)
    #expect(host.modelName == "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz")
    #expect(host.features.contains("avx2") && host.features.contains("fma") && !host.features.contains("avx512f"))
    #expect(host.cores == 12)
    #expect(host.caches == .init(l1d: 32 << 10, l2: 256 << 10, l3: 12 << 20))
    let native = try HostDetection.nativeProfile(for: host, builtins: HardwareProfile.builtins())
    #expect(native.basedOn == "x86-64-avx2")
    #expect(native.templateFolder == "x86-64-avx2")
  }

  @Test func readsAZen5AndPicksTheAVX512ProfileWithItsCachesAndOptionalFeatures() throws {
    let host = try HostDetection.host(cpuinfo: HostFixtures.zen5CPUInfo, online: "0-31", caches: HostFixtures.zen5Caches)
    let native = try HostDetection.nativeProfile(for: host, builtins: HardwareProfile.builtins())
    #expect(native.name == "native")
    #expect(native.basedOn == "x86-64-avx512")
    #expect(native.cpuModel == "AMD Ryzen 9 9950X 16-Core Processor")
    #expect(native.cores == 32)
    #expect(native.caches == .init(l1d: 48 << 10, l2: 1 << 20, l3: 32 << 20))
    #expect(native.blocking == BlockingModel.blocking(caches: native.caches, microKernel: native.microKernel))
    #expect(native.recordedFeatures.contains("avx512_bf16"))
    #expect(!native.recordedFeatures.contains("avx512_fp16"), "Zen 5 has no AVX512-FP16")
  }

  @Test func readsAnAarch64BoxAndPicksNEON() throws {
    let host = try HostDetection.host(cpuinfo: HostFixtures.graviton2CPUInfo, online: "0-63", caches: HostFixtures.graviton2Caches)
    #expect(host.isa == .aarch64)
    #expect(host.features.contains("asimd"))
    #expect(host.modelName.contains("0xd0c"))
    let native = try HostDetection.nativeProfile(for: host, builtins: HardwareProfile.builtins())
    #expect(native.basedOn == "aarch64-neon")
    #expect(native.caches.l1d == 64 << 10)
    #expect(native.cores == 64)
    #expect(native.recordedFeatures == ["asimdhp"])
  }

  @Test func refusesAProfileNamingTheFeatureTheCPULacks() throws {
    let host = try HostDetection.host(cpuinfo: HostFixtures.intelAVX2CPUInfo, online: "0-11", caches: HostFixtures.intelAVX2Caches)
    let avx512 = try HardwareProfile.named("x86-64-avx512", host: host, store: ProfileStore(directory: emptyFolder()))
    #expect(avx512.canRun(on: host) == ["avx512f", "avx512bw", "avx512dq", "avx512vl"])
    let error = #expect(throws: ProfileError.self) { try avx512.requireRunnable(on: host) }
    #expect(error?.description == "profile x86-64-avx512 needs avx512f, avx512bw, avx512dq, avx512vl, which this CPU lacks")

    var bwOnlyMissing = host
    bwOnlyMissing.features.formUnion(["avx512f", "avx512dq", "avx512vl"])
    let single = #expect(throws: ProfileError.self) { try avx512.requireRunnable(on: bwOnlyMissing) }
    #expect(single?.description == "profile x86-64-avx512 needs avx512bw, which this CPU lacks")

    let neon = try HardwareProfile.named("aarch64-neon", host: host, store: ProfileStore(directory: emptyFolder()))
    #expect(neon.canRun(on: host) == ["aarch64", "asimd"])
    let generic = try HardwareProfile.named("generic", host: host, store: ProfileStore(directory: emptyFolder()))
    #expect(generic.canRun(on: host) == nil)
  }

  @Test func unknownProfileNameListsTheKnownOnes() throws {
    let error = #expect(throws: ProfileError.self) { try HardwareProfile.named("avx1024", store: ProfileStore(directory: emptyFolder())) }
    #expect(error?.description == "unknown profile 'avx1024'; known profiles: native, aarch64-neon, generic, x86-64-avx2, x86-64-avx512")
  }

  @Test func parsesCPUListsAndCacheSizesAndRejectsMalformedOnes() {
    #expect(HostDetection.parseCPUList("0") == 1)
    #expect(HostDetection.parseCPUList("0-1\n") == 2)
    #expect(HostDetection.parseCPUList("0-3,8-11,16") == 9)
    #expect(HostDetection.parseCPUList("") == nil)
    #expect(HostDetection.parseCPUList("3-1") == nil)
    #expect(HostDetection.parseCPUList("a-b") == nil)
    #expect(HostDetection.parseCacheSize("32K") == 32768)
    #expect(HostDetection.parseCacheSize("32M\n") == 32 << 20)
    #expect(HostDetection.parseCacheSize("512") == 512)
    #expect(HostDetection.parseCacheSize("12Q") == nil)
  }

  @Test func cpuinfoWithoutFeaturesIsAnError() {
    #expect(throws: ProfileError.self) { try HostDetection.host(cpuinfo: "processor: 0\n", online: "0", caches: []) }
  }

  @Test func detectsThisHostAndResolvesNativeToARunnableProfile() throws {
    let host = try HostDetection.current()
    #expect(host.cores >= 1)
    #expect(host.caches.l1d > 0 && host.caches.l2 > 0)
    let native = try HardwareProfile.named("native", host: host, store: ProfileStore(directory: emptyFolder()))
    #expect(native.canRun(on: host) == nil)
    #expect(native.cores == host.cores)
    #expect(native.blocking == BlockingModel.blocking(caches: native.caches, microKernel: native.microKernel))
    #if arch(x86_64)
      if host.features.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"]) {
        #expect(native.basedOn == "x86-64-avx512")
      }
    #endif
  }

  @Test func measuredCeilingsStoredForANameAreMergedWhenItIsLoaded() throws {
    let store = ProfileStore(directory: emptyFolder())
    var avx2 = try HardwareProfile.named("x86-64-avx2", store: store)
    #expect(avx2.ceilings == nil)
    avx2.ceilings = .init(peakGFLOPSOneCore: 100, peakGFLOPSAllCores: 190, threads: 2, memoryBandwidthGBps: 40, measuredAt: "2026-01-01T00:00:00Z")
    try store.save(avx2)
    let reloaded = try HardwareProfile.named("x86-64-avx2", store: store)
    #expect(reloaded == avx2)
    #expect(try HardwareProfile.named("generic", store: store).ceilings == nil)
  }

  @Test func builtinProfilesRoundTripThroughJSON() throws {
    for profile in try HardwareProfile.builtins() {
      let decoded = try JSONDecoder().decode(HardwareProfile.self, from: profile.jsonData())
      #expect(decoded == profile)
      #expect(profile.templateFolder == profile.name)
    }
  }

  @Test func aProfileFileMissingAFieldNamesIt() throws {
    let folder = emptyFolder()
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let file = folder.appendingPathComponent("broken.json")
    try Data(#"{"name": "broken", "isa": "x86-64"}"#.utf8).write(to: file)
    let error = #expect(throws: ProfileError.self) { try HardwareProfile.decode(contentsOf: file) }
    #expect(error?.description.contains("missing field") == true)
  }
}

/// A fresh folder path under the temporary directory (not created).
func emptyFolder() -> URL {
  FileManager.default.temporaryDirectory.appendingPathComponent("kiln-codegen-tests-\(UUID().uuidString)", isDirectory: true)
}
