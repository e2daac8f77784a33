import ArgumentParser
import Models

/// `kiln models`: the model families and their configs.
struct ModelsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "models", abstract: "List the reference models and their named configs.")

  @Flag(help: "Print JSON instead of text.") var json = false

  struct Listing: Encodable {
    struct Config: Encodable {
      let name: String
      let settings: [String: String]
    }
    let family: String
    let summary: String
    let defaultConfig: String
    let configs: [Config]
  }

  func run() throws {
    if json {
      try printJSON(ModelRegistry.families.map { family in
        Listing(family: family.name, summary: family.summary, defaultConfig: family.defaultConfig,
                configs: family.configNames.map { name in
                  Listing.Config(name: name, settings: Dictionary(
                    uniqueKeysWithValues: (family.settings(of: name) ?? []).map { ($0.key, $0.value) }))
                })
      })
      return
    }
    for family in ModelRegistry.families {
      print("\(family.name) — \(family.summary)")
      for name in family.configNames {
        let settings = (family.settings(of: name) ?? []).map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let marker = name == family.defaultConfig ? "*" : " "
        print("  \(marker) \(family.name)-\(name)".padding(toLength: 28, withPad: " ", startingAt: 0) + settings)
      }
    }
    print("\n* the family's default config. Select one as `kiln show dit-xl-2` or `kiln show dit --config xl-2`; "
          + "change a setting with `--set key=value`.")
  }
}
