import ArgumentParser
import Foundation
import Tracer

/// A graph named on the command line: a model (`dit-xl-2`) traced with the model options, or a
/// graph file written by `kiln trace -o graph.json`.
struct GraphSource {
  let title: String
  let graph: Graph

  init(_ argument: String, options: ModelOptions) throws {
    if argument.hasSuffix(".json") || FileManager.default.fileExists(atPath: argument) {
      guard options.config == nil, options.settings.isEmpty, options.resolution == nil else {
        throw ValidationError("--config, --set and --resolution apply to models, not to the graph file \(argument)")
      }
      title = argument
      graph = try Graph(contentsOf: URL(fileURLWithPath: argument))
    } else {
      let traced = try options.trace(argument)
      title = "\(traced.family.name)-\(traced.config)"
      graph = traced.graph
    }
  }
}
