import Tracer

/// The sizes of one model, as named configs and `--set key=value` overrides change them.
/// Conformers are plain structs of `Int`, `Double`, `Bool` and `String` fields.
public protocol ModelConfiguration: Codable, Sendable, Equatable {
  /// Throws `ModelError.invalidConfig` when the sizes cannot make a model (heads not dividing
  /// the width, say).
  func validate() throws
}

/// A reference model written with the tracing DSL.
public protocol ReferenceModel: SendableMetatype {
  associatedtype Config: ModelConfiguration
  /// The family name used on the command line (`dit`, `video-dit`, …).
  static var family: String { get }
  static var summary: String { get }
  /// Named configs, the default first.
  static var configs: [(name: String, config: Config)] { get }
  /// Traces one forward pass (one denoising step, one decode) at `config`'s sizes.
  static func trace(_ config: Config) throws -> Graph
}

public enum ModelError: Error, Equatable, CustomStringConvertible {
  case unknownModel(String, known: [String])
  case unknownConfig(family: String, config: String, known: [String])
  case unknownSetting(family: String, key: String, known: [String])
  case invalidSetting(key: String, value: String, expected: String)
  case invalidConfig(family: String, message: String)

  public var description: String {
    switch self {
    case .unknownModel(let name, let known):
      return "unknown model '\(name)' (known families: \(known.joined(separator: ", ")))"
    case .unknownConfig(let family, let config, let known):
      return "\(family) has no config '\(config)' (known: \(known.joined(separator: ", ")))"
    case .unknownSetting(let family, let key, let known):
      return "\(family) has no setting '\(key)' (settings: \(known.joined(separator: ", ")))"
    case .invalidSetting(let key, let value, let expected):
      return "setting '\(key)=\(value)': expected \(expected)"
    case .invalidConfig(let family, let message):
      return "\(family): \(message)"
    }
  }
}
