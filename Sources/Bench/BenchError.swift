/// Everything the bench refuses, one line each, naming the file and field or the case.
public enum BenchError: Error, Equatable, CustomStringConvertible, Sendable {
  case unreadable(String, String)
  case unknownSuite(String)
  case malformedSuite(file: String, field: String, String)
  case generationUnavailable(file: String, field: String, label: String)
  case caseFailed(String, String)
  case malformedReport(String, String)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason): return "\(path): cannot read: \(reason)"
    case .unknownSuite(let name): return "suite '\(name)': no bench/suites/\(name).json in this folder or above it; pass a file path instead"
    case .malformedSuite(let file, let field, let message): return "suite \(file): \(field): \(message)"
    case .generationUnavailable(let file, let field, let label):
      return "suite \(file): \(field): '\(label)' needs end-to-end generation, which is not available in this build; "
        + "remove the entry or run a build that includes generation"
    case .caseFailed(let label, let message): return "\(label): \(message)"
    case .malformedReport(let file, let message): return "report \(file): \(message)"
    }
  }
}
