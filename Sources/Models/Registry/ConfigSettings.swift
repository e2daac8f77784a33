import Foundation

/// A config seen as ordered `key = value` settings, the form `kiln models` prints and
/// `--set key=value` edits. Field order is the struct's declaration order.
public struct ConfigSetting: Hashable, Sendable, Codable {
  public var key: String
  public var value: String
}

enum ConfigSettings {
  static func settings<Config: ModelConfiguration>(of config: Config) -> [ConfigSetting] {
    fields(of: config).map { ConfigSetting(key: $0.key, value: "\($0.value)") }
  }

  /// Applies `key=value` overrides, each parsed as the type of the field it sets.
  static func apply<Config: ModelConfiguration>(_ overrides: [String: String], to config: Config, family: String) throws -> Config {
    guard !overrides.isEmpty else { return config }
    let fields = Dictionary(uniqueKeysWithValues: fields(of: config).map { ($0.key, $0.value) })
    let data = try JSONEncoder().encode(config)
    guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return config }
    for (key, text) in overrides.sorted(by: { $0.key < $1.key }) {
      guard let current = fields[key] else {
        throw ModelError.unknownSetting(family: family, key: key, known: settings(of: config).map(\.key))
      }
      object[key] = try parse(text, like: current, key: key)
    }
    let edited = try JSONSerialization.data(withJSONObject: object)
    return try JSONDecoder().decode(Config.self, from: edited)
  }

  private static func fields<Config>(of config: Config) -> [(key: String, value: Any)] {
    Mirror(reflecting: config).children.compactMap { child in child.label.map { ($0, child.value) } }
  }

  private static func parse(_ text: String, like current: Any, key: String) throws -> Any {
    switch current {
    case is Int:
      guard let value = Int(text) else { throw ModelError.invalidSetting(key: key, value: text, expected: "an integer") }
      return value
    case is Double:
      guard let value = Double(text), value.isFinite else {
        throw ModelError.invalidSetting(key: key, value: text, expected: "a number")
      }
      return value
    case is Bool:
      guard let value = Bool(text) else { throw ModelError.invalidSetting(key: key, value: text, expected: "true or false") }
      return value
    default:
      return text
    }
  }
}
