import Codegen
import Foundation
import Models

/// The executors a suite may name, in the order reports list them.
public enum BenchExecutor: String, Codable, Sendable, CaseIterable, Comparable {
  case compiled, naive
  case eagerBLAS = "eager-blas"

  /// Whether a hardware profile and a NUMA policy apply (they do to the emitted programs only).
  public var usesProfile: Bool { self != .eagerBLAS }

  public static func < (a: BenchExecutor, b: BenchExecutor) -> Bool {
    (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
  }
}

/// A thread count as a suite writes it: a number, or `"all"` (every CPU of the machine).
public enum ThreadCount: Hashable, Sendable, Codable {
  case count(Int)
  case all

  public func resolved(cpus: Int) -> Int {
    switch self {
    case .count(let n): return Swift.min(n, cpus)
    case .all: return cpus
    }
  }

  public var spelled: String {
    switch self {
    case .count(let n): return String(n)
    case .all: return "all"
    }
  }
}

/// A value that is one number for every executor, or a number per executor (`default` for the rest).
public struct PerExecutor: Hashable, Sendable, Codable {
  public var byExecutor: [BenchExecutor: Int]
  public var fallback: Int

  public init(_ fallback: Int, _ byExecutor: [BenchExecutor: Int] = [:]) {
    self.fallback = fallback
    self.byExecutor = byExecutor
  }

  public subscript(executor: BenchExecutor) -> Int { byExecutor[executor] ?? fallback }
}

/// One model entry of a suite: what to trace and every way to run it.
public struct ModelRun: Hashable, Sendable {
  /// The name the report uses; unique in the suite.
  public var label: String
  /// A registry name (`dit-xl-2`, `llama`), with `config` and `--set` overrides.
  public var model: String
  public var config: String?
  public var overrides: [String: String]
  public var profiles: [String]
  public var executors: [BenchExecutor]
  public var threads: [ThreadCount]
  public var numa: [String]
  public var warmups: PerExecutor
  public var repetitions: PerExecutor
  /// Whether the compiled executor's per-kernel times are recorded (and drawn on a roofline).
  public var kernels: Bool
  /// Peer runtimes timed beside the headline compiled case, sample by sample; empty for none.
  public var peers: [Peer] = []
}

/// One end-to-end generation entry: run through the `GenerationRunner` the build provides.
public struct GenerationRun: Hashable, Sendable, Codable {
  public var label: String
  public var model: String
  public var config: String?
  public var overrides: [String: String]
  public var steps: Int
  /// The sampler by name (`ddim`, `ddpm`, `euler`); nil lets the pipeline choose the model's own.
  public var sampler: String?
  public var guidance: Double?
  public var seed: UInt64
  public var executor: BenchExecutor
  public var profile: String
  public var threads: ThreadCount
  public var numa: String
  /// Warm-up generations of one denoising step each, before the first sample: they compile the
  /// pipeline's modules into the cache, so that no sample pays for a cold compile.
  public var warmups: Int
  /// Spread over the suite's rounds like a model case's.
  public var repetitions: Int
  /// A total time (seconds) the generation should stay within; the report says whether it did.
  public var targetSeconds: Double?
}

/// One compile-time entry: each sample traces, lowers and compiles the model into an empty kernel
/// cache of its own (cold), then does it again against that cache (warm), as `kiln compile` would.
public struct CompileRun: Hashable, Sendable, Codable {
  public var label: String
  public var model: String
  public var config: String?
  public var overrides: [String: String]
  public var profile: String
  /// Spread over the suite's rounds, one cold and one warm compile each.
  public var repetitions: Int
  public var coldTargetSeconds: Double?
  public var warmTargetSeconds: Double?
}

public enum SuiteEntry: Hashable, Sendable {
  case model(ModelRun)
  case generation(GenerationRun)
  case compile(CompileRun)
  /// GEMMs and attentions measured one kernel at a time against OpenBLAS (KernelBenchmarkSuite.swift).
  case kernelBenchmarks(KernelBenchmarkRun)
}

/// A benchmark suite (`bench/suites/*.json`), checked field by field; bench/README.md documents the format.
public struct Suite: Hashable, Sendable {
  public static let formatVersion = 1
  public var name: String
  public var file: String
  public var description: String
  /// A person's estimate of the suite's run time, kept with the suite and printed before it runs.
  public var expectedMinutes: Double?
  /// How many times the run goes through every case, each taking its share of the repetitions
  /// (`RoundSchedule`), so that a case's samples are spread over the run; default 1.
  public var rounds: Int
  public var entries: [SuiteEntry]

  public var modelRuns: [ModelRun] {
    entries.compactMap { if case .model(let run) = $0 { return run } else { return nil } }
  }

  public var generationRuns: [GenerationRun] {
    entries.compactMap { if case .generation(let run) = $0 { return run } else { return nil } }
  }

  public var compileRuns: [CompileRun] {
    entries.compactMap { if case .compile(let run) = $0 { return run } else { return nil } }
  }

  public init(name: String, file: String, description: String, expectedMinutes: Double?, rounds: Int = 1, entries: [SuiteEntry]) {
    self.name = name
    self.file = file
    self.description = description
    self.expectedMinutes = expectedMinutes
    self.rounds = rounds
    self.entries = entries
  }

  /// Reads and checks a suite file; every refusal is one line naming the file and the field.
  public init(contentsOf url: URL) throws {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw BenchError.unreadable(url.path, error.localizedDescription)
    }
    try self.init(json: data, file: url.lastPathComponent)
  }

  public init(json data: Data, file: String) throws {
    let root: Any
    do { root = try JSONSerialization.jsonObject(with: data) } catch {
      throw BenchError.malformedSuite(file: file, field: "(file)", "not valid JSON")
    }
    var parser = SuiteParser(file: file)
    self = try parser.suite(root)
  }

  /// `NAME` names `bench/suites/NAME.json`, looked for from `directory` upwards; anything with a
  /// slash or a `.json` suffix is a path.
  public static func locate(_ nameOrPath: String, from directory: URL) throws -> URL {
    if nameOrPath.contains("/") || nameOrPath.hasSuffix(".json") {
      let url = URL(fileURLWithPath: nameOrPath, relativeTo: directory)
      guard FileManager.default.fileExists(atPath: url.path) else { throw BenchError.unreadable(nameOrPath, "no such file") }
      return url
    }
    var folder = directory.standardizedFileURL
    while true {
      let candidate = folder.appendingPathComponent("bench/suites/\(nameOrPath).json")
      if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
      let parent = folder.deletingLastPathComponent()
      if parent.path == folder.path { break }
      folder = parent
    }
    throw BenchError.unknownSuite(nameOrPath)
  }
}

/// Walks the decoded JSON, carrying the path of the field it is in for its messages.
struct SuiteParser {
  let file: String
  let knownProfiles: [String] = (try? HardwareProfile.knownNames()) ?? [HardwareProfile.nativeName]

  static let runKeys: Set<String> = ["model", "config", "set", "label", "profiles", "executors", "threads", "numa", "warmups",
                                     "repetitions", "kernels", "peers"]
  static let defaultKeys: Set<String> = ["profiles", "executors", "threads", "numa", "warmups", "repetitions", "kernels", "peers"]
  static let generationKeys: Set<String> = ["model", "config", "set", "label", "steps", "sampler", "guidance", "seed", "executor",
                                            "profile", "threads", "numa", "warmups", "repetitions", "targetSeconds"]
  static let compileKeys: Set<String> = ["model", "config", "set", "label", "profile", "repetitions", "coldTargetSeconds",
                                         "warmTargetSeconds"]

  func fail(_ field: String, _ message: String) -> BenchError { .malformedSuite(file: file, field: field, message) }

  mutating func suite(_ root: Any) throws -> Suite {
    let object = try self.object(root, "(top level)")
    try refuseUnknownKeys(object, allowed: ["kiln-suite", "name", "description", "expectedMinutes", "rounds", "defaults", "runs"], at: "")
    guard let version = object["kiln-suite"] else { throw fail("kiln-suite", "missing (this format is version \(Suite.formatVersion))") }
    guard (version as? NSNumber)?.intValue == Suite.formatVersion, !(version is String) else {
      throw fail("kiln-suite", "version \(version) is not supported (this build reads \(Suite.formatVersion))")
    }
    let name = try string(object["name"], "name")
    let description = try object["description"].map { try string($0, "description") } ?? ""
    let expected = try object["expectedMinutes"].map { try positiveNumber($0, "expectedMinutes") }
    let rounds = try object["rounds"].map { try integer($0, "rounds", minimum: 1) } ?? 1
    let defaults = try object["defaults"].map { try self.object($0, "defaults") } ?? [:]
    try refuseUnknownKeys(defaults, allowed: Self.defaultKeys, at: "defaults.")
    guard let runsValue = object["runs"] else { throw fail("runs", "missing (a list of model and generation entries)") }
    guard let runs = runsValue as? [Any] else { throw fail("runs", "must be a list") }
    guard !runs.isEmpty else { throw fail("runs", "is empty: a suite needs at least one entry") }
    var entries: [SuiteEntry] = []
    var labels: Set<String> = []
    for (index, value) in runs.enumerated() {
      let at = "runs[\(index)]"
      let run = try self.object(value, at)
      let entry: SuiteEntry
      if let generation = run["generation"] {
        try refuseUnknownKeys(run, allowed: ["generation"], at: at + ".")
        entry = .generation(try generationRun(try self.object(generation, at + ".generation"), at: at + ".generation", defaults: defaults))
      } else if let compile = run["compile"] {
        try refuseUnknownKeys(run, allowed: ["compile"], at: at + ".")
        entry = .compile(try compileRun(try self.object(compile, at + ".compile"), at: at + ".compile", rounds: rounds))
      } else if let kernels = run["kernelBenchmarks"] {
        try refuseUnknownKeys(run, allowed: ["kernelBenchmarks"], at: at + ".")
        try refuseSecondKernelBenchmarks(after: entries, at: at)
        entry = .kernelBenchmarks(try kernelBenchmarkRun(try self.object(kernels, at + ".kernelBenchmarks"), at: at + ".kernelBenchmarks"))
      } else {
        entry = .model(try modelRun(run, at: at, defaults: defaults))
      }
      let label: String
      switch entry {
      case .model(let run): label = run.label
      case .generation(let run): label = run.label
      case .compile(let run): label = run.label
      case .kernelBenchmarks(let run): label = run.label
      }
      guard labels.insert(label).inserted else { throw fail(at + ".label", "'\(label)' is used by an earlier entry; labels must be unique") }
      entries.append(entry)
    }
    return Suite(name: name, file: file, description: description, expectedMinutes: expected, rounds: rounds, entries: entries)
  }

  func modelRun(_ run: [String: Any], at: String, defaults: [String: Any]) throws -> ModelRun {
    try refuseUnknownKeys(run, allowed: Self.runKeys, at: at + ".")
    let (model, config, overrides) = try modelSpec(run, at: at)
    func field(_ key: String) -> (value: Any, path: String)? {
      if let value = run[key] { return (value, "\(at).\(key)") }
      return defaults[key].map { ($0, "defaults.\(key)") }
    }
    let executors = try field("executors").map { try list($0.value, $0.path) { try executor($0, $1) } } ?? BenchExecutor.allCases
    let profiles = try field("profiles").map { try list($0.value, $0.path) { try profile($0, $1) } } ?? [HardwareProfile.nativeName]
    let threads = try field("threads").map { try list($0.value, $0.path) { try threadCount($0, $1) } } ?? [.all]
    let numa = try field("numa").map { try list($0.value, $0.path) { try numaPolicy($0, $1) } } ?? ["local"]
    let warmups = try field("warmups").map { try perExecutor($0.value, $0.path, minimum: 0) } ?? PerExecutor(1)
    let repetitions = try field("repetitions").map { try perExecutor($0.value, $0.path, minimum: 1) } ?? PerExecutor(5)
    let kernels = try field("kernels").map { try bool($0.value, $0.path) } ?? true
    let peers = try field("peers").map { try peerList($0.value, $0.path) } ?? []
    let label = try run["label"].map { try string($0, at + ".label") } ?? Self.defaultLabel(model, config, overrides)
    return ModelRun(label: label, model: model, config: config, overrides: overrides, profiles: profiles, executors: executors,
                    threads: threads, numa: numa, warmups: warmups, repetitions: repetitions, kernels: kernels, peers: peers)
  }

  func generationRun(_ run: [String: Any], at: String, defaults: [String: Any]) throws -> GenerationRun {
    try refuseUnknownKeys(run, allowed: Self.generationKeys, at: at + ".")
    let (model, config, overrides) = try modelSpec(run, at: at)
    guard let stepsValue = run["steps"] else { throw fail(at + ".steps", "missing (denoising steps)") }
    let steps = try integer(stepsValue, at + ".steps", minimum: 1)
    let seed = try run["seed"].map { try integer($0, at + ".seed", minimum: 0) } ?? 0
    let label = try run["label"].map { try string($0, at + ".label") } ?? "generate " + Self.defaultLabel(model, config, overrides)
    return GenerationRun(
      label: label, model: model, config: config, overrides: overrides, steps: steps,
      sampler: try run["sampler"].map { try string($0, at + ".sampler") },
      guidance: try run["guidance"].map { try positiveNumber($0, at + ".guidance") },
      seed: UInt64(seed),
      executor: try run["executor"].map { try executor($0, at + ".executor") } ?? .compiled,
      profile: try run["profile"].map { try profile($0, at + ".profile") } ?? HardwareProfile.nativeName,
      threads: try run["threads"].map { try threadCount($0, at + ".threads") } ?? .all,
      numa: try run["numa"].map { try numaPolicy($0, at + ".numa") } ?? "local",
      warmups: try run["warmups"].map { try integer($0, at + ".warmups", minimum: 0) } ?? 1,
      repetitions: try run["repetitions"].map { try integer($0, at + ".repetitions", minimum: 1) } ?? 1,
      targetSeconds: try run["targetSeconds"].map { try positiveNumber($0, at + ".targetSeconds") })
  }

  func compileRun(_ run: [String: Any], at: String, rounds: Int) throws -> CompileRun {
    try refuseUnknownKeys(run, allowed: Self.compileKeys, at: at + ".")
    let (model, config, overrides) = try modelSpec(run, at: at)
    let label = try run["label"].map { try string($0, at + ".label") } ?? "compile " + Self.defaultLabel(model, config, overrides)
    return CompileRun(
      label: label, model: model, config: config, overrides: overrides,
      profile: try run["profile"].map { try profile($0, at + ".profile") } ?? HardwareProfile.nativeName,
      repetitions: try run["repetitions"].map { try integer($0, at + ".repetitions", minimum: 1) } ?? rounds,
      coldTargetSeconds: try run["coldTargetSeconds"].map { try positiveNumber($0, at + ".coldTargetSeconds") },
      warmTargetSeconds: try run["warmTargetSeconds"].map { try positiveNumber($0, at + ".warmTargetSeconds") })
  }

  /// The model name resolved against the registry (so a typo fails before anything runs).
  func modelSpec(_ run: [String: Any], at: String) throws -> (String, String?, [String: String]) {
    guard let value = run["model"] else { throw fail(at + ".model", "missing (a model such as dit-xl-2, see `kiln models`)") }
    let model = try string(value, at + ".model")
    let config = try run["config"].map { try string($0, at + ".config") }
    let family: ModelFamily
    do { family = try ModelRegistry.resolve(model, config: config).family } catch {
      throw fail(at + (config == nil ? ".model" : ".config"), "\(error)")
    }
    // A bare family name takes `config` as given; check it here rather than when tracing.
    if let config, !family.configNames.contains(config) {
      throw fail(at + ".config", "\(ModelError.unknownConfig(family: family.name, config: config, known: family.configNames))")
    }
    var overrides: [String: String] = [:]
    if let set = run["set"] {
      for (key, value) in try object(set, at + ".set") {
        overrides[key] = try scalarText(value, "\(at).set.\(key)")
      }
    }
    return (model, config, overrides)
  }

  static func defaultLabel(_ model: String, _ config: String?, _ overrides: [String: String]) -> String {
    var label = config.map { "\(model)-\($0)" } ?? model
    if !overrides.isEmpty { label += " (" + overrides.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")" }
    return label
  }

  // MARK: Field readers

  func refuseUnknownKeys(_ object: [String: Any], allowed: Set<String>, at prefix: String) throws {
    if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
      throw fail(prefix + unknown, "unknown field (known: \(allowed.sorted().joined(separator: ", ")))")
    }
  }

  func object(_ value: Any, _ field: String) throws -> [String: Any] {
    guard let object = value as? [String: Any] else { throw fail(field, "must be an object") }
    return object
  }

  func string(_ value: Any?, _ field: String) throws -> String {
    guard let value else { throw fail(field, "missing") }
    guard let text = value as? String, !text.isEmpty else { throw fail(field, "must be a non-empty string") }
    return text
  }

  func isBoolean(_ value: Any) -> Bool {
    // JSON booleans decode as NSNumbers of ObjC type "c"; JSON numbers never do.
    guard let number = value as? NSNumber else { return false }
    return String(cString: number.objCType) == "c"
  }

  func bool(_ value: Any, _ field: String) throws -> Bool {
    guard isBoolean(value), let flag = value as? Bool else { throw fail(field, "must be true or false") }
    return flag
  }

  func integer(_ value: Any, _ field: String, minimum: Int) throws -> Int {
    guard !(value is String), !isBoolean(value), let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded()
    else { throw fail(field, "must be an integer, got \(Self.render(value))") }
    guard number.intValue >= minimum else { throw fail(field, "must be at least \(minimum), got \(number.intValue)") }
    return number.intValue
  }

  func positiveNumber(_ value: Any, _ field: String) throws -> Double {
    guard !(value is String), !isBoolean(value), let number = value as? NSNumber, number.doubleValue > 0 else {
      throw fail(field, "must be a positive number, got \(Self.render(value))")
    }
    return number.doubleValue
  }

  func scalarText(_ value: Any, _ field: String) throws -> String {
    if let text = value as? String { return text }
    if isBoolean(value), let flag = value as? Bool { return String(flag) }
    if let number = value as? NSNumber { return number.stringValue }
    throw fail(field, "must be a string, number or boolean")
  }

  func list<T: Hashable>(_ value: Any, _ field: String, _ element: (Any, String) throws -> T) throws -> [T] {
    guard let items = value as? [Any] else { throw fail(field, "must be a list") }
    guard !items.isEmpty else { throw fail(field, "is empty") }
    var seen: Set<T> = []
    return try items.enumerated().compactMap { index, item in
      let parsed = try element(item, "\(field)[\(index)]")
      return seen.insert(parsed).inserted ? parsed : nil
    }
  }

  func executor(_ value: Any, _ field: String) throws -> BenchExecutor {
    let name = try string(value, field)
    guard let executor = BenchExecutor(rawValue: name) else {
      throw fail(field, "unknown executor '\(name)' (known: \(BenchExecutor.allCases.map(\.rawValue).sorted().joined(separator: ", ")))")
    }
    return executor
  }

  func profile(_ value: Any, _ field: String) throws -> String {
    let name = try string(value, field)
    guard knownProfiles.contains(name) else { throw fail(field, "unknown profile '\(name)' (known: \(knownProfiles.joined(separator: ", ")))") }
    return name
  }

  /// An empty list is allowed here (unlike other lists): it is how a run opts out of the defaults' peers.
  func peerList(_ value: Any, _ field: String) throws -> [Peer] {
    guard let items = value as? [Any] else { throw fail(field, "must be a list of peer names (known: \(Peer.allCases.map(\.rawValue).joined(separator: ", ")))") }
    var peers: [Peer] = []
    for (index, item) in items.enumerated() {
      let name = try string(item, "\(field)[\(index)]")
      guard let peer = Peer(rawValue: name) else {
        throw fail("\(field)[\(index)]", "unknown peer '\(name)' (known: \(Peer.allCases.map(\.rawValue).joined(separator: ", ")))")
      }
      if !peers.contains(peer) { peers.append(peer) }
    }
    return peers
  }

  func threadCount(_ value: Any, _ field: String) throws -> ThreadCount {
    if let text = value as? String {
      guard text == "all" else { throw fail(field, "threads must be a positive integer or \"all\", got '\(text)'") }
      return .all
    }
    do { return .count(try integer(value, field, minimum: 1)) } catch {
      throw fail(field, "threads must be a positive integer or \"all\", got \(Self.render(value))")
    }
  }

  func numaPolicy(_ value: Any, _ field: String) throws -> String {
    let name = try string(value, field)
    let known = ["local", "interleave", "replicate"]
    guard known.contains(name) else { throw fail(field, "unknown NUMA policy '\(name)' (known: \(known.joined(separator: ", ")))") }
    return name
  }

  func perExecutor(_ value: Any, _ field: String, minimum: Int) throws -> PerExecutor {
    guard let table = value as? [String: Any] else { return PerExecutor(try integer(value, field, minimum: minimum)) }
    var result = PerExecutor(try table["default"].map { try integer($0, field + ".default", minimum: minimum) } ?? (minimum == 0 ? 1 : 5))
    for (key, count) in table where key != "default" {
      guard let executor = BenchExecutor(rawValue: key) else {
        throw fail("\(field).\(key)", "unknown executor '\(key)' (known: default, \(BenchExecutor.allCases.map(\.rawValue).sorted().joined(separator: ", ")))")
      }
      result.byExecutor[executor] = try integer(count, "\(field).\(key)", minimum: minimum)
    }
    return result
  }

  static func render(_ value: Any) -> String {
    if let text = value as? String { return "'\(text)'" }
    if value is [Any] { return "a list" }
    if value is [String: Any] { return "an object" }
    return "\(value)"
  }
}
