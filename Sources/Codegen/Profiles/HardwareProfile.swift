import Foundation

/// Everything Codegen needs to know about a CPU family, as data: the templates, the emitter and
/// the compiler driver read these fields and never branch on the ISA themselves.
///
/// Built-in profiles are JSON resources (`Profiles/builtin/*.json`); `native` is the best
/// built-in the host can run, re-fitted to the host's caches and cores (see `HostDetection`).
public struct HardwareProfile: Codable, Hashable, Sendable {
  public enum ISA: String, Codable, Hashable, Sendable {
    case x86_64 = "x86-64"
    case aarch64
    /// Portable C: runs wherever a C compiler does.
    case any
  }

  /// Cache capacities in bytes (the per-core L1d and L2, the L3 shared by the cores; 0 = none).
  public struct Caches: Codable, Hashable, Sendable {
    public var l1d: Int
    public var l2: Int
    public var l3: Int
    public init(l1d: Int, l2: Int, l3: Int) {
      self.l1d = l1d
      self.l2 = l2
      self.l3 = l3
    }
  }

  /// The register tile of the GEMM micro-kernel: MR rows of A times NR columns of B.
  ///
  /// Each k step broadcasts MR values of A, loads NR/vectorWidth vectors of B and issues
  /// MR·NR/vectorWidth FMAs into accumulators that live in registers for the whole KC loop, so
  /// the tile is chosen to fill the register file: accumulators + B vectors + one broadcast ≤
  /// registers, with at least latency × FMA units independent accumulators.
  /// - x86-64-avx512, 14×32: 28 zmm accumulators + 2 for B + 1 broadcast = 31 of 32 zmm; 28
  ///   FMAs per 2 loads and 14 broadcasts (1.75 FMA per load, above the 1:1 that two load ports
  ///   and two FMA pipes need), and 28 ≫ 4-cycle latency × 2 pipes. 12×32 leaves 4 registers
  ///   idle; 6×64 needs a 64-wide B micro-panel, halving KC for the same L1 and wasting a quarter
  ///   of each tile on N tails such as a 48-wide head dimension.
  /// - x86-64-avx2, 6×16: 12 ymm accumulators + 2 for B + 1 broadcast = 15 of 16 (BLIS Haswell).
  /// - aarch64-neon, 8×12: 24 v accumulators + 3 for B + 2 holding 8 A values = 29 of 32.
  /// - generic, 4×8 with a nominal width of 4: 8 accumulators + 2 for B + 1 broadcast = 11, so
  ///   the compiler keeps the tile in registers even on a 16-register 4-lane ISA (SSE2); 4×16
  ///   would need 16 accumulators alone and spill.
  public struct MicroKernel: Codable, Hashable, Sendable {
    public var mr: Int
    public var nr: Int
    public init(mr: Int, nr: Int) {
      self.mr = mr
      self.nr = nr
    }
  }

  /// BLIS cache blocking: KC (shared dimension), MC (rows of a packed A block), NC (columns of a packed B panel).
  public struct Blocking: Codable, Hashable, Sendable {
    public var kc: Int
    public var mc: Int
    public var nc: Int
    public init(kc: Int, mc: Int, nc: Int) {
      self.kc = kc
      self.mc = mc
      self.nc = nc
    }
  }

  /// What `kiln profile --measure` found; absent until it has run on this machine.
  public struct Ceilings: Codable, Hashable, Sendable {
    public var peakGFLOPSOneCore: Double
    public var peakGFLOPSAllCores: Double
    /// Threads used for the all-cores figures.
    public var threads: Int
    /// STREAM-triad convention: 3 × 4 bytes counted per element (two reads, one write).
    public var memoryBandwidthGBps: Double
    /// ISO 8601 date and time of the measurement.
    public var measuredAt: String
    public init(peakGFLOPSOneCore: Double, peakGFLOPSAllCores: Double, threads: Int, memoryBandwidthGBps: Double, measuredAt: String) {
      self.peakGFLOPSOneCore = peakGFLOPSOneCore
      self.peakGFLOPSAllCores = peakGFLOPSAllCores
      self.threads = threads
      self.memoryBandwidthGBps = memoryBandwidthGBps
      self.measuredAt = measuredAt
    }
  }

  public var name: String
  /// For `native`: the built-in profile it was fitted from (its templates and micro-kernel).
  public var basedOn: String?
  /// For `native`: the CPU's model name as the kernel reports it.
  public var cpuModel: String?
  public var isa: ISA
  /// CPU features (Linux `/proc/cpuinfo` names) the templates and flags need; a host lacking one is refused.
  public var requiredFeatures: [String]
  /// Optional features the templates may use when present; in `native`, only those the host has.
  public var recordedFeatures: [String]
  /// f32 lanes per vector register.
  public var vectorWidth: Int
  /// Architectural vector registers, the budget the micro-kernel's accumulators must fit in.
  public var vectorRegisters: Int
  /// Vector FMA instructions a core can issue per cycle.
  public var fmaUnitsPerCore: Int
  public var cores: Int
  public var caches: Caches
  public var microKernel: MicroKernel
  public var blocking: Blocking
  /// Flags selecting the ISA; the compiler driver adds the optimization level and output kind.
  public var cFlags: [String]
  /// The folder under `Codegen/Templates/` holding this profile's micro-kernel and vector header.
  public var templateFolder: String
  public var ceilings: Ceilings?
  /// The `OPENBLAS_CORETYPE` the eager-BLAS baseline asks OpenBLAS for on this CPU family (its own
  /// detection can pick a slower kernel); nil lets OpenBLAS choose.
  public var openBLASCoreType: String?

  public init(
    name: String, basedOn: String? = nil, cpuModel: String? = nil, isa: ISA, requiredFeatures: [String],
    recordedFeatures: [String], vectorWidth: Int, vectorRegisters: Int, fmaUnitsPerCore: Int, cores: Int,
    caches: Caches, microKernel: MicroKernel, blocking: Blocking, cFlags: [String], templateFolder: String,
    ceilings: Ceilings? = nil, openBLASCoreType: String? = nil
  ) {
    self.name = name
    self.basedOn = basedOn
    self.cpuModel = cpuModel
    self.isa = isa
    self.requiredFeatures = requiredFeatures
    self.recordedFeatures = recordedFeatures
    self.vectorWidth = vectorWidth
    self.vectorRegisters = vectorRegisters
    self.fmaUnitsPerCore = fmaUnitsPerCore
    self.cores = cores
    self.caches = caches
    self.microKernel = microKernel
    self.blocking = blocking
    self.cFlags = cFlags
    self.templateFolder = templateFolder
    self.ceilings = ceilings
    self.openBLASCoreType = openBLASCoreType
  }

  /// Single-precision FLOPs one core can retire per cycle (an FMA is two), the order in which
  /// `native` prefers one runnable built-in over another.
  public var flopsPerCyclePerCore: Int { 2 * vectorWidth * fmaUnitsPerCore }

  /// The name profiles resolve `native` through.
  public static let nativeName = "native"
}

// MARK: - Running on a host

extension HardwareProfile {
  /// Nil when `host` can run code built for this profile; otherwise what it lacks (the ISA
  /// first, when that differs, then each missing feature).
  public func canRun(on host: HostInfo) -> [String]? {
    var missing: [String] = []
    if isa != .any && isa != host.isa { missing.append(isa.rawValue) }
    missing += requiredFeatures.filter { !host.features.contains($0) }
    return missing.isEmpty ? nil : missing
  }

  /// Throws the one-line refusal when `host` cannot run this profile's code.
  public func requireRunnable(on host: HostInfo) throws {
    if let missing = canRun(on: host) { throw ProfileError.hostLacks(profile: name, missing: missing) }
  }
}

// MARK: - Resolving names

extension HardwareProfile {
  /// The built-in profiles shipped with Kiln, in a stable order (by name).
  public static func builtins() throws -> [HardwareProfile] {
    guard let folder = Bundle.module.url(forResource: "builtin", withExtension: nil) else {
      throw ProfileError.missingResource("Profiles/builtin")
    }
    let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == "json" }
      .sorted { $0.lastPathComponent < $1.lastPathComponent }
    return try files.map { try decode(contentsOf: $0) }
  }

  /// Every name `named(_:)` accepts.
  public static func knownNames() throws -> [String] {
    [nativeName] + (try builtins().map(\.name))
  }

  /// Resolves `native` (detected from `host`) or a built-in name, then merges the ceilings
  /// measured earlier on this machine, if `ProfileStore` holds some for that name.
  public static func named(
    _ name: String,
    host: @autoclosure () throws -> HostInfo = try HostDetection.current(),
    store: ProfileStore? = nil
  ) throws -> HardwareProfile {
    var profile: HardwareProfile
    if name == nativeName {
      profile = try HostDetection.nativeProfile(for: host(), builtins: builtins())
    } else if let builtin = try builtins().first(where: { $0.name == name }) {
      profile = builtin
    } else {
      throw ProfileError.unknownProfile(name, known: try knownNames())
    }
    let store = store ?? ProfileStore()
    if let measured = try store.storedCeilings(for: name) { profile.ceilings = measured }
    return profile
  }

  public static func decode(contentsOf file: URL) throws -> HardwareProfile {
    let data: Data
    do { data = try Data(contentsOf: file) } catch {
      throw ProfileError.unreadable(file.path, error.localizedDescription)
    }
    do { return try JSONDecoder().decode(HardwareProfile.self, from: data) } catch let DecodingError.keyNotFound(key, _) {
      throw ProfileError.malformed(file.path, "missing field '\(key.stringValue)'")
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
      let DecodingError.dataCorrupted(context)
    {
      let field = context.codingPath.map(\.stringValue).joined(separator: ".")
      throw ProfileError.malformed(file.path, field.isEmpty ? context.debugDescription : "field '\(field)': \(context.debugDescription)")
    }
  }

  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
  }
}

/// Everything that can go wrong resolving, reading or checking a profile; one actionable line each.
public enum ProfileError: Error, Equatable, CustomStringConvertible, Sendable {
  case unknownProfile(String, known: [String])
  case hostLacks(profile: String, missing: [String])
  case noRunnableProfile(isa: String)
  case unreadable(String, String)
  case malformed(String, String)
  case missingResource(String)
  case hostDetection(String)

  public var description: String {
    switch self {
    case .unknownProfile(let name, let known):
      return "unknown profile '\(name)'; known profiles: \(known.joined(separator: ", "))"
    case .hostLacks(let profile, let missing):
      let list = missing.joined(separator: ", ")
      return "profile \(profile) needs \(list), which this CPU lacks"
    case .noRunnableProfile(let isa):
      return "no built-in profile runs on this \(isa) CPU; use the 'generic' profile"
    case .unreadable(let path, let reason):
      return "profile \(path): cannot read it (\(reason))"
    case .malformed(let path, let reason):
      return "profile \(path): \(reason)"
    case .missingResource(let path):
      return "Codegen resource \(path) is missing from the build; rebuild Kiln"
    case .hostDetection(let reason):
      return "host detection: \(reason)"
    }
  }
}
