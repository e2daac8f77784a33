import Foundation

/// The system C compiler Kiln hands its generated kernels to: `$CC`, else `cc`, `clang`, `gcc`
/// on `PATH`.
public struct CCompiler: Hashable, Sendable {
  public let path: String

  public init(path: String) { self.path = path }

  /// The first compiler found, or nil when there is none.
  public static func find(environment: [String: String] = ProcessInfo.processInfo.environment) -> CCompiler? {
    let candidates = [environment["CC"]].compactMap { $0 } + ["cc", "clang", "gcc"]
    let searchPath = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
    for candidate in candidates {
      if candidate.contains("/") {
        if FileManager.default.isExecutableFile(atPath: candidate) { return CCompiler(path: candidate) }
        continue
      }
      for directory in searchPath {
        let path = directory + "/" + candidate
        if FileManager.default.isExecutableFile(atPath: path) { return CCompiler(path: path) }
      }
    }
    return nil
  }
}
