/// What can go wrong loading, placing or running a program; each renders as one actionable line.
public enum RuntimeError: Error, Equatable, CustomStringConvertible, Sendable {
  case invalidTensor(String)
  /// A feed (input, weight) is missing, or has the wrong shape or dtype.
  case invalidFeed(String)
  /// A weight file or folder cannot be used; the message names the file and the tensor or field.
  case invalidWeights(String)
  /// The machine description (topology JSON, libnuma) cannot be used.
  case invalidTopology(String)
  /// A system call or library failed.
  case system(String)
  /// An executor cannot run this graph.
  case unsupported(String)

  public var description: String {
    switch self {
    case .invalidTensor(let message): return "tensor: " + message
    case .invalidFeed(let message): return message
    case .invalidWeights(let message): return "weights: " + message
    case .invalidTopology(let message): return "topology: " + message
    case .system(let message): return message
    case .unsupported(let message): return message
    }
  }
}
