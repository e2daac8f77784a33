import Foundation

/// Where Kiln keeps what it builds and measures: `$KILN_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
public enum KilnCacheDirectory {
  public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
    if let explicit = environment["KILN_CACHE_DIR"], !explicit.isEmpty {
      return URL(fileURLWithPath: explicit, isDirectory: true)
    }
    if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
      return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("kiln", isDirectory: true)
    }
    let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".cache/kiln", isDirectory: true)
  }
}

/// Profiles with measured ceilings, one JSON file per name under `<cache>/profiles/`; loading a
/// profile by name merges the ceilings stored here.
public struct ProfileStore: Sendable {
  public let directory: URL

  public init(directory: URL) { self.directory = directory }

  public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
    self.init(directory: KilnCacheDirectory.resolve(environment: environment).appendingPathComponent("profiles", isDirectory: true))
  }

  public func file(for name: String) -> URL { directory.appendingPathComponent(name + ".json") }

  /// The ceilings measured for `name` on this machine, or nil when none were stored.
  public func storedCeilings(for name: String) throws -> HardwareProfile.Ceilings? {
    let file = file(for: name)
    guard FileManager.default.fileExists(atPath: file.path) else { return nil }
    return try HardwareProfile.decode(contentsOf: file).ceilings
  }

  /// Writes `profile` (with its ceilings) atomically: a reader sees the old file or the new one.
  public func save(_ profile: HardwareProfile) throws {
    try AtomicFile.write(try profile.jsonData(), to: file(for: profile.name))
  }
}

/// Writes through a temporary file in the destination's folder and renames it into place, so a
/// reader or a crash never leaves a half-written file under the final name.
enum AtomicFile {
  static func write(_ data: Data, to destination: URL) throws {
    let folder = destination.deletingLastPathComponent()
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      let temporary = folder.appendingPathComponent(".tmp-\(UUID().uuidString)-" + destination.lastPathComponent)
      try data.write(to: temporary)
      try replace(destination, with: temporary)
    } catch {
      throw CompilerError.cacheIO(destination.path, error.localizedDescription)
    }
  }

  /// POSIX rename: atomic, and replaces an existing destination.
  static func replace(_ destination: URL, with source: URL) throws {
    guard rename(source.path, destination.path) == 0 else {
      let reason = String(cString: strerror(errno))
      try? FileManager.default.removeItem(at: source)
      throw CompilerError.cacheIO(destination.path, "rename failed: \(reason)")
    }
  }
}
