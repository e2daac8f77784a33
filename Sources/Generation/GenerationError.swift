/// Why a generation could not run or write its files; one line a user can act on.
public enum GenerationError: Error, Equatable, CustomStringConvertible, Sendable {
  case invalidRequest(String)
  case model(String)
  case output(String)

  public var description: String {
    switch self {
    case .invalidRequest(let message): return message
    case .model(let message): return message
    case .output(let message): return message
    }
  }
}
