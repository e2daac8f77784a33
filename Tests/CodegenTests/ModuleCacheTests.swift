import Foundation
import Testing

@testable import Codegen

@Suite("Compiler driver and module cache")
struct ModuleCacheTests {
  static let source = """
    float kiln_test_dot(const float *a, const float *b, int n) {
      float sum = 0.0f;
      for (int i = 0; i < n; i++) sum += a[i] * b[i];
      return sum;
    }
    """

  func freshCache() throws -> ModuleCache {
    ModuleCache(directory: emptyFolder(), compiler: try CCompiler.locate())
  }

  func generic() throws -> HardwareProfile {
    try HardwareProfile.named("generic", store: ProfileStore(directory: emptyFolder()))
  }

  @Test func coldCompileThenWarmHitReturnsTheSameModule() throws {
    let cache = try freshCache()
    let cold = try cache.compile(source: Self.source, name: "dot", profile: generic())
    #expect(!cold.cacheHit)
    #expect(cold.compileSeconds > 0)
    #expect(FileManager.default.fileExists(atPath: cold.path.path))
    #expect(cold.path.pathExtension == "so")
    #expect(try String(contentsOf: cold.sourcePath, encoding: .utf8) == Self.source)
    let warm = try cache.compile(source: Self.source, name: "dot", profile: generic())
    #expect(warm.cacheHit)
    #expect(warm.path == cold.path && warm.key == cold.key)
    #expect(warm.compileSeconds == 0)
  }

  @Test func keyChangesWithSourceFlagsProfileAndCompiler() {
    let identity = CompilerIdentity(path: "/usr/bin/cc", version: "cc 1.0")
    let base = ModuleCache.key(source: "a", identity: identity, flags: ["-O3"], profileName: "generic", kind: .sharedObject)
    #expect(base.count == 64)
    #expect(base != ModuleCache.key(source: "b", identity: identity, flags: ["-O3"], profileName: "generic", kind: .sharedObject))
    #expect(base != ModuleCache.key(source: "a", identity: identity, flags: ["-O2"], profileName: "generic", kind: .sharedObject))
    #expect(base != ModuleCache.key(source: "a", identity: identity, flags: ["-O3"], profileName: "x86-64-avx2", kind: .sharedObject))
    #expect(base != ModuleCache.key(source: "a", identity: .init(path: "/usr/bin/cc", version: "cc 1.1"), flags: ["-O3"], profileName: "generic", kind: .sharedObject))
    #expect(base != ModuleCache.key(source: "a", identity: identity, flags: ["-O3"], profileName: "generic", kind: .executable))
    #expect(
      ModuleCache.key(source: "a", identity: identity, flags: ["-O3", "-g"], profileName: "generic", kind: .sharedObject)
        != ModuleCache.key(source: "a", identity: identity, flags: ["-O3-g"], profileName: "generic", kind: .sharedObject))
  }

  @Test func aTruncatedSharedObjectIsRebuiltNotTrusted() throws {
    let cache = try freshCache()
    let cold = try cache.compile(source: Self.source, name: "dot", profile: generic())
    let intact = try Data(contentsOf: cold.path)
    try intact.prefix(intact.count / 2).write(to: cold.path)
    let rebuilt = try cache.compile(source: Self.source, name: "dot", profile: generic())
    #expect(!rebuilt.cacheHit)
    #expect(try Data(contentsOf: rebuilt.path).count == intact.count)
    #expect(try cache.compile(source: Self.source, name: "dot", profile: generic()).cacheHit)
  }

  @Test func aCorruptedByteOfTheSameSizeIsRebuilt() throws {
    let cache = try freshCache()
    let cold = try cache.compile(source: Self.source, name: "dot", profile: generic())
    var bytes = try Data(contentsOf: cold.path)
    bytes[bytes.count / 2] ^= 0xFF
    try bytes.write(to: cold.path)
    #expect(try !cache.compile(source: Self.source, name: "dot", profile: generic()).cacheHit)
  }

  @Test func aSyntaxErrorNamesTheFileAndShowsTheFirstErrorLines() throws {
    let cache = try freshCache()
    let broken = "int kiln_broken(void) {\n  return 1 +;\n}\n"
    let error = #expect(throws: CompilerError.self) { try cache.compile(source: broken, name: "broken", profile: generic()) }
    guard case .rejected(let file, _, let firstErrors) = error else {
      Issue.record("expected a rejection, got \(String(describing: error))")
      return
    }
    #expect(file.hasSuffix(".c") && file.contains("broken"))
    #expect(FileManager.default.fileExists(atPath: file), "the rejected source stays for the user to read")
    #expect(firstErrors.first?.contains("error") == true)
    #expect(firstErrors.count <= 8)
    #expect(error?.description.contains(file) == true)
    #expect(error?.description.contains(":2:") == true, "the error points at line 2: \(error?.description ?? "")")
  }

  @Test func aMissingCompilerGivesAClearError() throws {
    let environment = ["CC": "/nonexistent", "PATH": "", "KILN_CACHE_DIR": emptyFolder().path]
    let error = #expect(throws: CompilerError.self) { try ModuleCache(environment: environment) }
    #expect(error?.description == "no C compiler found (tried CC=/nonexistent, cc, clang, gcc on PATH ''); install clang or gcc, or set CC")
  }

  @Test func cacheDirectoryFollowsKilnCacheDirThenXDGThenHome() {
    #expect(KilnCacheDirectory.resolve(environment: ["KILN_CACHE_DIR": "/tmp/k", "HOME": "/home/u"]).path == "/tmp/k")
    #expect(KilnCacheDirectory.resolve(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/home/u"]).path == "/x/kiln")
    #expect(KilnCacheDirectory.resolve(environment: ["HOME": "/home/u"]).path == "/home/u/.cache/kiln")
  }

  @Test func compilerIdentityIsTheFirstVersionLine() throws {
    let identity = try CCompiler.locate().identity()
    #expect(!identity.version.isEmpty && !identity.version.contains("\n"))
    #expect(try CCompiler.locate().identity() == identity)
  }
}

@Suite("Ceiling measurement")
struct CeilingMeasurementTests {
  @Test func aTinyMeasurementGivesPositiveFiniteCeilingsAndStoresThem() throws {
    let host = try HostDetection.current()
    let store = ProfileStore(directory: emptyFolder())
    let cache = ModuleCache(directory: emptyFolder(), compiler: try CCompiler.locate())
    let native = try HardwareProfile.named("native", host: host, store: store)
    let tiny = CeilingMeasurement(fmaSeconds: 0.01, triadArrayBytes: 1 << 20, threads: 2)
    let measured = try native.measuringCeilings(on: host, with: tiny, cache: cache, store: store)
    let ceilings = try #require(measured.ceilings)
    for value in [ceilings.peakGFLOPSOneCore, ceilings.peakGFLOPSAllCores, ceilings.memoryBandwidthGBps] {
      #expect(value.isFinite && value > 0)
    }
    #expect(ceilings.threads == 2)
    #expect(try HardwareProfile.named("native", host: host, store: store).ceilings == ceilings)
  }

  @Test func measuringAProfileTheHostCannotRunIsRefused() throws {
    let host = try HostDetection.current()
    let store = ProfileStore(directory: emptyFolder())
    let foreign = try HardwareProfile.named(host.isa == .aarch64 ? "x86-64-avx2" : "aarch64-neon", host: host, store: store)
    let cache = ModuleCache(directory: emptyFolder(), compiler: try CCompiler.locate())
    #expect(throws: ProfileError.self) { try foreign.measuringCeilings(on: host, cache: cache, store: store) }
    #expect(!FileManager.default.fileExists(atPath: store.file(for: foreign.name).path))
  }
}
