import ArgumentParser
import Models
import Tracer

/// Which model to trace and at what sizes: `dit-xl-2`, `--config`, `--set key=value`, `--resolution`.
struct ModelOptions: ParsableArguments {
  @Option(name: .customLong("config"), help: "A named config of the model's family (see `kiln models`).")
  var config: String?

  @Option(name: .customLong("set"), parsing: .singleValue,
          help: ArgumentHelp("Override one setting of the config.", valueName: "key=value"))
  var settings: [String] = []

  @Option(help: "Image resolution in pixels, for models that have a `resolution` setting (DiT: 256 or 512).")
  var resolution: Int?

  /// The `--set` overrides as a dictionary, with `--resolution` folded in.
  func overrides() throws -> [String: String] {
    var overrides: [String: String] = [:]
    for setting in settings {
      let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2, !parts[0].isEmpty else {
        throw ValidationError("--set expects key=value, got '\(setting)'")
      }
      overrides[parts[0]] = parts[1]
    }
    if let resolution { overrides["resolution"] = String(resolution) }
    return overrides
  }

  /// Resolves `name` (`dit-xl-2`, `dit`) and traces it with these options.
  func trace(_ name: String) throws -> (family: ModelFamily, config: String, graph: Graph) {
    let (family, config) = try ModelRegistry.resolve(name, config: self.config)
    let overrides = try overrides()
    if resolution != nil, family.settings(of: config)?.contains(where: { $0.key == "resolution" }) != true {
      throw ValidationError("--resolution: \(family.name) has no resolution setting")
    }
    return (family, config, try family.trace(config: config, overrides: overrides))
  }
}
