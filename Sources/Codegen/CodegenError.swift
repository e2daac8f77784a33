/// What can stop lowering or emission; each renders as one line a user can act on.
public enum CodegenError: Error, Equatable, CustomStringConvertible, Sendable {
  case missingTemplates(String)
  /// The graph holds something this lowering cannot turn into kernels (named, with the node).
  case unsupported(String)
  case invalidGraph(String)

  public var description: String {
    switch self {
    case .missingTemplates(let message): return "codegen: " + message
    case .unsupported(let message): return "codegen: " + message
    case .invalidGraph(let message): return "codegen: " + message
    }
  }
}
