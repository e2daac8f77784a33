import Codegen
import Foundation

/// An emitted module compiled through the kernel cache and loaded with dlopen: the entry points
/// of `kiln_module.h`, resolved once. The shared object stays loaded as long as this value lives
/// and is closed (dlclose) when it goes away, so a context created from it must be destroyed first.
public final class LoadedModule: @unchecked Sendable {
  /// The ABI version of `kiln_module.h` this runtime speaks.
  public static let abiVersion: Int32 = 1

  /// The cache entry the module was loaded from (path, key, whether it was a cache hit, compile time).
  public let compiled: CompiledModule
  let entryPoints: ModuleEntryPoints
  private let handle: UnsafeMutableRawPointer

  /// Compiles `program.source` at `program.optimization` with its profile's flags (or takes the
  /// cached shared object, rebuilt if damaged) and loads it. A profile `host` cannot run is refused
  /// before anything is compiled or loaded.
  /// - Parameters:
  ///   - cache: where modules are compiled and kept; nil means the cache under `KilnCacheDirectory`.
  ///   - host: the machine the module will run on; nil means this one, as `HostDetection` reads it.
  public init(program: Program, cache: ModuleCache? = nil, host: HostInfo? = nil) throws {
    try program.profile.requireRunnable(on: host ?? HostDetection.current())
    let compiled = try Self.compile(program, cache: cache ?? ModuleCache())
    guard let handle = dlopen(compiled.path.path, RTLD_NOW | RTLD_LOCAL) else {
      throw RuntimeError.system("module: cannot load \(compiled.path.path): \(Self.lastDynamicLinkerError())")
    }
    do {
      entryPoints = try ModuleEntryPoints(handle: handle, path: compiled.path.path)
    } catch {
      dlclose(handle)
      throw error
    }
    let version = entryPoints.abiVersion()
    guard version == Self.abiVersion else {
      dlclose(handle)
      throw RuntimeError.unsupported(
        "module: \(compiled.path.path) speaks module ABI version \(version), this runtime speaks \(Self.abiVersion) (rebuild it with this Kiln)")
    }
    self.handle = handle
    self.compiled = compiled
  }

  deinit {
    dlclose(handle)
  }

  /// Compiles `program.source` into a shared object through `cache` (or takes the cached one), as
  /// loading does; for `kiln compile`, which builds without loading.
  public static func compile(_ program: Program, cache: ModuleCache) throws -> CompiledModule {
    try cache.compile(
      source: program.source, name: "\(program.name)-\(program.mode.rawValue)", profile: program.profile,
      optimization: program.optimization, translationUnits: program.translationUnits)
  }

  /// `kiln_weight_count()`: the weight slots the module reads.
  public var weightCount: Int { Int(entryPoints.weightCount()) }

  /// `kiln_packed_weight_floats(w)`: the floats weight `w` takes in its packed layout.
  public func packedWeightFloats(_ weight: Int) -> Int { entryPoints.packedWeightFloats(Int32(weight)) }

  /// `kiln_arena_bytes()`: the activations, inputs and outputs the module addresses.
  public var arenaBytes: Int { entryPoints.arenaBytes() }

  /// `kiln_kernel_count()`: the scheduled kernel calls, one timing slot each.
  public var kernelCount: Int { Int(entryPoints.kernelCount()) }

  static func lastDynamicLinkerError() -> String {
    guard let message = dlerror() else { return "unknown dynamic linker error" }
    return String(cString: message)
  }
}

/// The C entry points of an emitted module (`kiln_module.h`), as Swift function pointers.
struct ModuleEntryPoints {
  typealias AbiVersion = @convention(c) () -> Int32
  typealias WeightCount = @convention(c) () -> Int32
  typealias PackedWeightFloats = @convention(c) (Int32) -> Int
  typealias PackWeight = @convention(c) (Int32, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Void
  typealias ArenaBytes = @convention(c) () -> Int
  typealias KernelCount = @convention(c) () -> Int32
  typealias ContextCreate = @convention(c) (
    UnsafeMutablePointer<UInt8>?, UnsafePointer<UnsafePointer<Float>?>?, UnsafePointer<Int32>?, Int32
  ) -> OpaquePointer?
  typealias ContextSetTiming = @convention(c) (OpaquePointer?, UnsafeMutablePointer<Double>?) -> Void
  typealias ContextDestroy = @convention(c) (OpaquePointer?) -> Void

  /// Every symbol the runtime resolves; a module missing one is refused.
  static let symbols = [
    "kiln_abi_version", "kiln_weight_count", "kiln_packed_weight_floats", "kiln_pack_weight", "kiln_arena_bytes",
    "kiln_kernel_count", "kiln_ctx_create", "kiln_ctx_set_timing", "kiln_ctx_destroy", "kiln_run",
  ]

  let abiVersion: AbiVersion
  let weightCount: WeightCount
  let packedWeightFloats: PackedWeightFloats
  let packWeight: PackWeight
  let arenaBytes: ArenaBytes
  let kernelCount: KernelCount
  let contextCreate: ContextCreate
  let contextSetTiming: ContextSetTiming
  let contextDestroy: ContextDestroy
  /// `kiln_run(kiln_ctx *, int)`: the same C signature as a team body `(void *, int)`, so the
  /// team calls it directly with the context as its argument.
  let run: TeamBody

  init(handle: UnsafeMutableRawPointer, path: String) throws {
    var resolved: [String: UnsafeMutableRawPointer] = [:]
    for symbol in Self.symbols {
      guard let address = dlsym(handle, symbol) else {
        throw RuntimeError.unsupported("module: \(path) does not export \(symbol) (is it a Kiln module built for ABI version \(LoadedModule.abiVersion)?)")
      }
      resolved[symbol] = address
    }
    func function<F>(_ symbol: String, as type: F.Type) -> F { unsafeBitCast(resolved[symbol]!, to: type) }
    abiVersion = function("kiln_abi_version", as: AbiVersion.self)
    weightCount = function("kiln_weight_count", as: WeightCount.self)
    packedWeightFloats = function("kiln_packed_weight_floats", as: PackedWeightFloats.self)
    packWeight = function("kiln_pack_weight", as: PackWeight.self)
    arenaBytes = function("kiln_arena_bytes", as: ArenaBytes.self)
    kernelCount = function("kiln_kernel_count", as: KernelCount.self)
    contextCreate = function("kiln_ctx_create", as: ContextCreate.self)
    contextSetTiming = function("kiln_ctx_set_timing", as: ContextSetTiming.self)
    contextDestroy = function("kiln_ctx_destroy", as: ContextDestroy.self)
    run = function("kiln_run", as: TeamBody.self)
  }
}
