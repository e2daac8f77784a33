import COpenBLAS
import Codegen
import Foundation

/// Where the core type OpenBLAS runs with came from.
public enum OpenBLASCoreTypeSource: Equatable, Sendable {
  /// The user's environment already set `OPENBLAS_CORETYPE`; Kiln left it alone.
  case environment
  /// Kiln set `OPENBLAS_CORETYPE` from the hardware profile before loading the library.
  case profile(String)
  /// Neither the environment nor the profile named one: OpenBLAS detected the CPU itself.
  case openBLASDetection
  /// The library was already loaded in this process before Kiln could choose: the core type is
  /// whatever the first loader's environment made it.
  case loadedEarlier
}

/// What Kiln asks OpenBLAS for, decided before the library loads.
public struct OpenBLASCoreTypeRequest: Equatable, Sendable {
  /// The value to put in `OPENBLAS_CORETYPE`, or nil to leave the environment as it is.
  public var valueToSet: String?
  public var source: OpenBLASCoreTypeSource

  public init(valueToSet: String?, source: OpenBLASCoreTypeSource) {
    self.valueToSet = valueToSet
    self.source = source
  }

  /// The user's `OPENBLAS_CORETYPE` wins; otherwise the profile's core type, if it names one.
  public static func decide(environment: [String: String], profileCoreType: String?) -> OpenBLASCoreTypeRequest {
    if let user = environment[OpenBLASLibrary.coreTypeVariable], !user.isEmpty {
      return OpenBLASCoreTypeRequest(valueToSet: nil, source: .environment)
    }
    if let wanted = profileCoreType, !wanted.isEmpty {
      return OpenBLASCoreTypeRequest(valueToSet: wanted, source: .profile(wanted))
    }
    return OpenBLASCoreTypeRequest(valueToSet: nil, source: .openBLASDetection)
  }
}

/// OpenBLAS, loaded once per process with dlopen after `OPENBLAS_CORETYPE` is chosen (the library
/// reads the variable only when it loads, so linking it at build time would let its own
/// detection pick the kernel: on Zen 5 an AVX2 one at about half the AVX-512 speed).
public final class OpenBLASLibrary: @unchecked Sendable {
  // @unchecked: every stored property is an immutable C function address or a value.
  public typealias SGEMM = @convention(c) (
    CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, Float,
    UnsafePointer<Float>?, blasint, UnsafePointer<Float>?, blasint, Float, UnsafeMutablePointer<Float>?, blasint
  ) -> Void
  typealias SetThreads = @convention(c) (Int32) -> Void
  typealias GetInt = @convention(c) () -> Int32
  typealias GetString = @convention(c) () -> UnsafeMutablePointer<CChar>?
  /// `openblas_setaffinity` / `openblas_getaffinity(thread, cpusetsize, cpu_set_t *)`.
  typealias Affinity = @convention(c) (Int32, Int, UnsafeMutableRawPointer?) -> Int32

  public static let coreTypeVariable = "OPENBLAS_CORETYPE"
  /// Tried in order: the runtime package's soname, then the development symlink.
  static let libraryNames = ["libopenblas.so.0", "libopenblas.so"]

  public let sgemm: SGEMM
  private let setThreads: SetThreads
  private let getThreads: GetInt
  /// Absent from builds without thread affinity control; then `pinThreads` pins nothing.
  let setAffinity: Affinity?
  let getAffinity: Affinity?
  /// The file dlopen found.
  public let libraryName: String
  /// The core type OpenBLAS's kernels were built for, as it reports after loading (`SkylakeX`).
  public let coreName: String
  /// Its build configuration, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64`.
  public let configuration: String
  /// Who chose the core type.
  public let coreTypeSource: OpenBLASCoreTypeSource
  /// The core type Kiln or the user asked for, when one was asked for.
  public let requestedCoreType: String?

  private init(handle: UnsafeMutableRawPointer, name: String, source: OpenBLASCoreTypeSource,
               requested: String?) throws(RuntimeError) {
    func symbol<T>(_ symbolName: String, as type: T.Type) throws(RuntimeError) -> T {
      guard let address = dlsym(handle, symbolName) else {
        throw RuntimeError.system("OpenBLAS: \(name) has no symbol \(symbolName); install libopenblas0 (0.3 or newer)")
      }
      return unsafeBitCast(address, to: type)
    }
    sgemm = try symbol("cblas_sgemm", as: SGEMM.self)
    setThreads = try symbol("openblas_set_num_threads", as: SetThreads.self)
    getThreads = try symbol("openblas_get_num_threads", as: GetInt.self)
    setAffinity = dlsym(handle, "openblas_setaffinity").map { unsafeBitCast($0, to: Affinity.self) }
    getAffinity = dlsym(handle, "openblas_getaffinity").map { unsafeBitCast($0, to: Affinity.self) }
    let corename = try symbol("openblas_get_corename", as: GetString.self)
    let config = try symbol("openblas_get_config", as: GetString.self)
    libraryName = name
    coreName = corename().map { String(cString: $0) } ?? ""
    configuration = config().map { String(cString: $0) } ?? ""
    coreTypeSource = source
    requestedCoreType = requested
  }

  /// The threads OpenBLAS's GEMM uses; process-wide, like the library's own setting.
  public var threads: Int { Int(getThreads()) }

  public func setThreads(_ count: Int) { setThreads(Int32(clamping: max(count, 1))) }

  /// One line for reports: the core type in use and who chose it, and any mismatch with the request.
  public var summary: String {
    var line = "OpenBLAS core \(coreName)"
    switch coreTypeSource {
    case .environment: line += " (OPENBLAS_CORETYPE=\(requestedCoreType ?? "") from the environment)"
    case .profile(let wanted): line += " (OPENBLAS_CORETYPE=\(wanted) set by Kiln from the hardware profile)"
    case .openBLASDetection: line += " (chosen by OpenBLAS's own detection)"
    case .loadedEarlier: line += " (library was already loaded in this process; Kiln could not choose)"
    }
    if let wanted = requestedCoreType, coreName.lowercased() != wanted.lowercased() {
      line += "; asked for \(wanted), OpenBLAS uses \(coreName)"
    }
    return line
  }

  /// The process's library, loaded on first use with the core type of the host's native profile
  /// (or the user's `OPENBLAS_CORETYPE`).
  public static func shared() throws(RuntimeError) -> OpenBLASLibrary {
    try sharedLoad.get()
  }

  private static let sharedLoad: Result<OpenBLASLibrary, RuntimeError> = {
    let profileCoreType = (try? HardwareProfile.named(HardwareProfile.nativeName))?.openBLASCoreType
    return Result { () throws(RuntimeError) in try load(profileCoreType: profileCoreType) }
  }()

  /// Sets `OPENBLAS_CORETYPE` as `decide` says, then dlopens the library. Runs once per process
  /// (through `shared()`): setting the variable after the library is loaded changes nothing, so
  /// a library some other code loaded first is reported as such, with the core it runs.
  static func load(profileCoreType: String?,
                   environment: [String: String] = ProcessInfo.processInfo.environment) throws(RuntimeError) -> OpenBLASLibrary {
    let request = OpenBLASCoreTypeRequest.decide(environment: environment, profileCoreType: profileCoreType)
    let requested = request.valueToSet ?? environment[coreTypeVariable]
    for name in libraryNames {
      if let handle = dlopen(name, RTLD_NOW | RTLD_NOLOAD) {
        return try OpenBLASLibrary(handle: handle, name: name, source: .loadedEarlier, requested: requested)
      }
    }
    if let value = request.valueToSet { setenv(coreTypeVariable, value, 1) }
    for name in libraryNames {
      if let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) {
        return try OpenBLASLibrary(handle: handle, name: name, source: request.source, requested: requested)
      }
    }
    let reason = dlerror().map { String(cString: $0) } ?? "not found"
    throw RuntimeError.system("OpenBLAS: cannot load \(libraryNames.joined(separator: " or ")) (\(reason)); install libopenblas0")
  }
}
