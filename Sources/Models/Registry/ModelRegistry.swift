import Tracer

/// One model family, type-erased so the CLI and the bench can list and trace any of them.
public struct ModelFamily: Sendable {
  public let name: String
  public let summary: String
  /// Config names, the default first.
  public let configNames: [String]
  private let settingsOf: @Sendable (String) -> [ConfigSetting]?
  private let traceConfig: @Sendable (String, [String: String]) throws -> Graph

  init<Model: ReferenceModel>(_ model: Model.Type) {
    name = Model.family
    summary = Model.summary
    configNames = Model.configs.map(\.name)
    settingsOf = { configName in
      Model.configs.first { $0.name == configName }.map { ConfigSettings.settings(of: $0.config) }
    }
    traceConfig = { configName, overrides in
      guard let base = Model.configs.first(where: { $0.name == configName })?.config else {
        throw ModelError.unknownConfig(family: Model.family, config: configName, known: Model.configs.map(\.name))
      }
      let config = try ConfigSettings.apply(overrides, to: base, family: Model.family)
      try config.validate()
      return try Model.trace(config)
    }
  }

  public var defaultConfig: String { configNames[0] }

  /// The settings of a named config, in declaration order; nil for an unknown config.
  public func settings(of config: String) -> [ConfigSetting]? { settingsOf(config) }

  /// Traces the named config with `--set`-style overrides applied and validated.
  public func trace(config: String? = nil, overrides: [String: String] = [:]) throws -> Graph {
    try traceConfig(config ?? defaultConfig, overrides)
  }
}

/// Every reference model Kiln ships, and the `family-config` naming the CLI accepts.
public enum ModelRegistry {
  public static let families: [ModelFamily] = [
    ModelFamily(DiT.self),
    ModelFamily(VAEDecoder.self),
    ModelFamily(VideoDiT.self),
    ModelFamily(MMDiT.self),
    ModelFamily(Llama.self),
  ]

  public static func family(named name: String) -> ModelFamily? {
    families.first { $0.name == name }
  }

  /// Resolves `dit-xl-2` into the `dit` family and its `xl-2` config; a bare family name selects
  /// its default config. An explicit `config` wins over one spelled in the name.
  public static func resolve(_ name: String, config: String? = nil) throws -> (family: ModelFamily, config: String) {
    // Longest family name first, so `video-dit-small` is video-dit's `small`, not dit's.
    for family in families.sorted(by: { $0.name.count > $1.name.count }) {
      if name == family.name { return (family, config ?? family.defaultConfig) }
      if name.hasPrefix(family.name + "-") {
        let spelled = String(name.dropFirst(family.name.count + 1))
        let chosen = config ?? spelled
        guard family.configNames.contains(chosen) else {
          throw ModelError.unknownConfig(family: family.name, config: chosen, known: family.configNames)
        }
        return (family, chosen)
      }
    }
    throw ModelError.unknownModel(name, known: families.map(\.name))
  }
}
