/// Everything that can go wrong compiling or caching a module; one actionable line each (the
/// compiler's own error lines follow a rejection).
public enum CompilerError: Error, Equatable, CustomStringConvertible, Sendable {
  case noCompiler(tried: [String], path: String)
  case unusableCompiler(String, String)
  case cannotRun(String, String)
  case rejected(file: String, compiler: String, firstErrors: [String])
  case cacheIO(String, String)
  case badOutput(String, String)

  public var description: String {
    switch self {
    case .noCompiler(let tried, let path):
      return "no C compiler found (tried \(tried.joined(separator: ", ")) on PATH '\(path)'); install clang or gcc, or set CC"
    case .unusableCompiler(let compiler, let reason):
      return "C compiler \(compiler) did not answer --version" + (reason.isEmpty ? "" : ": \(reason)")
    case .cannotRun(let program, let reason):
      return "cannot run \(program): \(reason)"
    case .rejected(let file, let compiler, let firstErrors):
      let header = "\(compiler) rejected \(file)"
      return firstErrors.isEmpty ? header : header + ":\n" + firstErrors.joined(separator: "\n")
    case .cacheIO(let path, let reason):
      return "module cache: \(path): \(reason); check that KILN_CACHE_DIR is writable"
    case .badOutput(let program, let reason):
      return "\(program) printed output Kiln cannot read: \(reason)"
    }
  }

  /// The compiler's first diagnostics, errors first: enough to see what went wrong without a
  /// screenful of notes.
  static func firstErrorLines(_ standardError: String, limit: Int = 8) -> [String] {
    let lines = standardError.split(separator: "\n").map(String.init)
    guard let firstError = lines.firstIndex(where: { $0.contains("error") }) else { return Array(lines.prefix(limit)) }
    return Array(lines[firstError...].prefix(limit))
  }
}
