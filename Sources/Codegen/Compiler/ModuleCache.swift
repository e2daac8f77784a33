import Foundation

/// A compiled module or program, ready to load or run.
public struct CompiledModule: Hashable, Sendable {
  /// The shared object (or executable) inside the cache.
  public var path: URL
  /// The C source it was built from, kept beside it for reading and for error messages.
  public var sourcePath: URL
  /// The cache key: SHA-256 of source, compiler identity, flags, profile and output kind.
  public var key: String
  public var cacheHit: Bool
  /// Wall time of the compiler run; 0 on a hit.
  public var compileSeconds: Double
}

/// Compiles C translation units with the profile's flags and keeps the results under
/// `<cache>/modules/`, keyed by everything that decides the bytes of the output.
///
/// An entry is `<key>.c` (the source), `<key>.so` or `<key>.bin` (the output) and `<key>.json`
/// (the manifest: the output's size and SHA-256). Every file is written to a temporary name and
/// renamed into place, the manifest last, so a manifest vouches for a complete output. On a hit
/// the output is re-hashed: a truncated or altered file is rebuilt, never trusted.
public struct ModuleCache: Sendable {
  public let directory: URL
  public let compiler: CCompiler

  public init(directory: URL, compiler: CCompiler) {
    self.directory = directory
    self.compiler = compiler
  }

  /// The cache under `KilnCacheDirectory` with the compiler `CCompiler.locate` finds.
  public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
    let root = KilnCacheDirectory.resolve(environment: environment)
    self.init(directory: root.appendingPathComponent("modules", isDirectory: true), compiler: try CCompiler.locate(environment: environment))
  }

  struct Manifest: Codable, Equatable {
    var name: String
    var size: Int
    var sha256: String
    var compiler: CompilerIdentity
    var arguments: [String]
    var profile: String
  }

  /// Compiles `source` for `profile` into a shared object, or returns the cached one.
  /// `translationUnits` > 1 (a module split by `KILN_PART`) compiles the parts side by side when
  /// the machine has the cores for it; the output and the cache key are the same either way.
  public func compile(
    source: String, name: String, profile: HardwareProfile, optimization: CCompiler.Optimization = .o3, extraFlags: [String] = [],
    translationUnits: Int = 1
  ) throws -> CompiledModule {
    let parts = min(translationUnits, ProcessInfo.processInfo.activeProcessorCount)
    return try build(source: source, name: name, profile: profile, kind: .sharedObject, optimization: optimization,
                     extraFlags: extraFlags, parts: parts)
  }

  /// Compiles `source` for `profile` into an executable, or returns the cached one.
  public func compileExecutable(
    source: String, name: String, profile: HardwareProfile, optimization: CCompiler.Optimization = .o3, extraFlags: [String] = []
  ) throws -> CompiledModule {
    try build(source: source, name: name, profile: profile, kind: .executable, optimization: optimization, extraFlags: extraFlags)
  }

  /// The cache key; `\u{0}` separates the parts so that no two different inputs concatenate alike.
  public static func key(
    source: String, identity: CompilerIdentity, flags: [String], profileName: String, kind: CCompiler.OutputKind
  ) -> String {
    var hasher = SHA256()
    for part in ["kiln-module-cache 1", source, identity.path, identity.version, flags.joined(separator: "\u{1}"), profileName, kind.rawValue] {
      hasher.update(part)
      hasher.update([0])
    }
    return hasher.hexDigest()
  }

  func build(
    source: String, name: String, profile: HardwareProfile, kind: CCompiler.OutputKind, optimization: CCompiler.Optimization,
    extraFlags: [String], parts: Int = 1
  ) throws -> CompiledModule {
    let identity = try compiler.identity()
    let flags = [optimization.rawValue] + profile.cFlags + extraFlags
    let key = Self.key(source: source, identity: identity, flags: flags, profileName: profile.name, kind: kind)
    let stem = Self.safeFileName(name) + "-" + key.prefix(16)
    let output = directory.appendingPathComponent(stem + (kind == .sharedObject ? ".so" : ".bin"))
    let sourceFile = directory.appendingPathComponent(stem + ".c")
    let manifestFile = directory.appendingPathComponent(stem + ".json")

    if isIntact(output: output, manifestFile: manifestFile) {
      return CompiledModule(path: output, sourcePath: sourceFile, key: key, cacheHit: true, compileSeconds: 0)
    }

    try AtomicFile.write(Data(source.utf8), to: sourceFile)
    let temporary = directory.appendingPathComponent(".tmp-\(UUID().uuidString)-" + output.lastPathComponent)
    var arguments = CCompiler.arguments(
      source: sourceFile.path, output: temporary.path, kind: kind, optimization: optimization, profileFlags: profile.cFlags,
      extraFlags: extraFlags)
    let objects = (0..<parts).map { directory.appendingPathComponent(".tmp-\(UUID().uuidString)-part\($0).o") }
    defer { for object in objects { try? FileManager.default.removeItem(at: object) } }
    let started = Date()
    do {
      if kind == .sharedObject && parts > 1 {
        let split = CCompiler.splitArguments(
          source: sourceFile.path, objects: objects.map(\.path), output: temporary.path, optimization: optimization,
          profileFlags: profile.cFlags, extraFlags: extraFlags)
        try compiler.compileSplit(source: sourceFile.path, compiles: split.compiles, link: split.link)
        arguments = split.compiles.flatMap { $0 + [";"] } + split.link
      } else {
        try compiler.compile(source: sourceFile.path, output: temporary.path, arguments: arguments)
      }
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw error
    }
    let seconds = Date().timeIntervalSince(started)
    let bytes: Data
    do { bytes = try Data(contentsOf: temporary) } catch {
      throw CompilerError.cacheIO(temporary.path, "the compiler wrote no output")
    }
    try AtomicFile.replace(output, with: temporary)
    let manifest = Manifest(
      name: name, size: bytes.count, sha256: SHA256.hex(of: bytes), compiler: identity, arguments: arguments, profile: profile.name)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try AtomicFile.write(try encoder.encode(manifest), to: manifestFile)
    return CompiledModule(path: output, sourcePath: sourceFile, key: key, cacheHit: false, compileSeconds: seconds)
  }

  /// True when the output exists and matches its manifest's size and SHA-256.
  func isIntact(output: URL, manifestFile: URL) -> Bool {
    guard let manifestData = try? Data(contentsOf: manifestFile),
      let manifest = try? JSONDecoder().decode(Manifest.self, from: manifestData),
      let bytes = try? Data(contentsOf: output),
      bytes.count == manifest.size
    else { return false }
    return SHA256.hex(of: bytes) == manifest.sha256
  }

  /// `name` restricted to characters safe in a file name on every system.
  static func safeFileName(_ name: String) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    let cleaned = String(name.map { allowed.contains($0) ? $0 : "_" }.prefix(64))
    return cleaned.isEmpty || cleaned.hasPrefix(".") ? "module" + cleaned : cleaned
  }
}
