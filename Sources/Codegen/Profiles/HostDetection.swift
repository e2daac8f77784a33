import Foundation

/// What Kiln knows about the CPU it runs on.
public struct HostInfo: Codable, Hashable, Sendable {
  public var isa: HardwareProfile.ISA
  public var modelName: String
  /// Feature names as Linux spells them in `/proc/cpuinfo` (`avx512f`, `avx512_bf16`, `asimd`).
  public var features: Set<String>
  /// Online logical CPUs.
  public var cores: Int
  public var caches: HardwareProfile.Caches

  public init(isa: HardwareProfile.ISA, modelName: String, features: Set<String>, cores: Int, caches: HardwareProfile.Caches) {
    self.isa = isa
    self.modelName = modelName
    self.features = features
    self.cores = cores
    self.caches = caches
  }
}

/// Reads the host from Linux's `/proc` and `/sys`. The parsers are pure functions over the
/// files' text so that other machines' files can be tested here.
public enum HostDetection {
  /// One `/sys/devices/system/cpu/cpu0/cache/index*` entry: its `level`, `type` and `size` files.
  public struct CacheEntry: Hashable, Sendable {
    public var level: String
    public var type: String
    public var size: String
    public init(level: String, type: String, size: String) {
      self.level = level
      self.type = type
      self.size = size
    }
  }

  /// The host, read from `/proc/cpuinfo`, `/sys/devices/system/cpu/online` and cpu0's caches.
  public static func current(root: String = "") throws -> HostInfo {
    let cpuinfo = try readText(root + "/proc/cpuinfo")
    let online = try readText(root + "/sys/devices/system/cpu/online")
    let cacheRoot = root + "/sys/devices/system/cpu/cpu0/cache"
    let indices = (try? FileManager.default.contentsOfDirectory(atPath: cacheRoot)) ?? []
    let entries = indices.filter { $0.hasPrefix("index") }.sorted().compactMap { index -> CacheEntry? in
      let folder = cacheRoot + "/" + index + "/"
      guard let level = try? readText(folder + "level"), let type = try? readText(folder + "type"),
        let size = try? readText(folder + "size")
      else { return nil }
      return CacheEntry(level: level, type: type, size: size)
    }
    return try host(cpuinfo: cpuinfo, online: online, caches: entries)
  }

  /// Assembles a `HostInfo` from the three sources' text.
  public static func host(cpuinfo: String, online: String, caches: [CacheEntry]) throws -> HostInfo {
    let cpu = parseCPUInfo(cpuinfo)
    guard let isa = cpu.isa else {
      throw ProfileError.hostDetection("/proc/cpuinfo has neither an x86 'flags' nor an Arm 'Features' line")
    }
    guard let cores = parseCPUList(online) else {
      throw ProfileError.hostDetection("cannot read the online CPU list '\(online.trimmingCharacters(in: .whitespacesAndNewlines))'")
    }
    return HostInfo(isa: isa, modelName: cpu.modelName, features: cpu.features, cores: cores, caches: parseCaches(caches))
  }

  /// The first processor's model name, feature set and ISA (from which of `flags` (x86) or
  /// `Features` (Arm) it lists) in `/proc/cpuinfo`.
  public static func parseCPUInfo(_ text: String) -> (modelName: String, features: Set<String>, isa: HardwareProfile.ISA?) {
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if line.trimmingCharacters(in: .whitespaces).isEmpty && !fields.isEmpty { break }
      guard let colon = line.firstIndex(of: ":") else { continue }
      let key = line[..<colon].trimmingCharacters(in: .whitespaces)
      let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      if fields[key] == nil { fields[key] = value }
    }
    let isa: HardwareProfile.ISA? = fields["flags"] != nil ? .x86_64 : fields["Features"] != nil ? .aarch64 : nil
    let featureLine = fields["flags"] ?? fields["Features"] ?? ""
    let features = Set(featureLine.split(separator: " ").map(String.init))
    let modelName = fields["model name"] ?? armModelName(fields) ?? "unknown CPU"
    return (modelName, features, isa)
  }

  /// Arm kernels print no model name: name the part by implementer and part number.
  static func armModelName(_ fields: [String: String]) -> String? {
    guard let implementer = fields["CPU implementer"], let part = fields["CPU part"] else { return nil }
    return "Arm CPU (implementer \(implementer), part \(part))"
  }

  /// Counts the CPUs in a kernel CPU list such as `0-3,8-11` or `0`; nil when malformed.
  public static func parseCPUList(_ text: String) -> Int? {
    var count = 0
    for range in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
      let bounds = range.split(separator: "-").map { Int($0) }
      switch bounds.count {
      case 1:
        guard bounds[0] != nil else { return nil }
        count += 1
      case 2:
        guard let low = bounds[0], let high = bounds[1], high >= low else { return nil }
        count += high - low + 1
      default:
        return nil
      }
    }
    return count > 0 ? count : nil
  }

  /// Bytes in a sysfs cache size such as `32K`, `1024K`, `32M`; nil when malformed.
  public static func parseCacheSize(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    let multipliers: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    if let last = trimmed.last, let multiplier = multipliers[last] {
      return Int(trimmed.dropLast()).map { $0 * multiplier }
    }
    return Int(trimmed)
  }

  /// The data/unified caches by level; a level the host does not report is 0.
  public static func parseCaches(_ entries: [CacheEntry]) -> HardwareProfile.Caches {
    var byLevel: [Int: Int] = [:]
    for entry in entries {
      let type = entry.type.trimmingCharacters(in: .whitespacesAndNewlines)
      guard type == "Data" || type == "Unified",
        let level = Int(entry.level.trimmingCharacters(in: .whitespacesAndNewlines)),
        let size = parseCacheSize(entry.size)
      else { continue }
      byLevel[level] = size
    }
    return HardwareProfile.Caches(l1d: byLevel[1] ?? 0, l2: byLevel[2] ?? 0, l3: byLevel[3] ?? 0)
  }

  /// The built-in the host runs fastest: among those it can run, the most FLOPs per cycle, then
  /// the most required features (the more specific profile).
  public static func bestBuiltin(for host: HostInfo, among builtins: [HardwareProfile]) throws -> HardwareProfile {
    let runnable = builtins.filter { $0.canRun(on: host) == nil }
    let best = runnable.max { lhs, rhs in
      (lhs.flopsPerCyclePerCore, lhs.requiredFeatures.count) < (rhs.flopsPerCyclePerCore, rhs.requiredFeatures.count)
    }
    guard let best else { throw ProfileError.noRunnableProfile(isa: host.isa.rawValue) }
    return best
  }

  /// The best built-in, fitted to the host: its cores and caches, blocking re-derived from those
  /// caches, and only the optional features the host has. A cache the host does not report
  /// keeps the built-in's representative size.
  public static func nativeProfile(for host: HostInfo, builtins: [HardwareProfile]) throws -> HardwareProfile {
    var profile = try bestBuiltin(for: host, among: builtins)
    profile.basedOn = profile.name
    profile.name = HardwareProfile.nativeName
    profile.cpuModel = host.modelName
    profile.cores = host.cores
    profile.recordedFeatures = profile.recordedFeatures.filter { host.features.contains($0) }
    profile.caches = HardwareProfile.Caches(
      l1d: host.caches.l1d > 0 ? host.caches.l1d : profile.caches.l1d,
      l2: host.caches.l2 > 0 ? host.caches.l2 : profile.caches.l2,
      l3: host.caches.l3
    )
    profile.blocking = BlockingModel.blocking(caches: profile.caches, microKernel: profile.microKernel)
    profile.ceilings = nil
    return profile
  }

  static func readText(_ path: String) throws -> String {
    do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
      throw ProfileError.hostDetection("cannot read \(path)")
    }
  }
}
