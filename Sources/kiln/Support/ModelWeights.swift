import ArgumentParser
import Foundation
import Models
import Runtime
import Tracer

/// A model traced for running, with the weights it runs on: a checkpoint (safetensors file or
/// diffusers folder, whose `config.json` sets the model's settings) or seeded weights.
struct RunnableModel {
  let title: String
  /// The family's name, nil for a graph file.
  let family: String?
  let graph: Graph
  let weights: [String: RuntimeTensor]
  /// Where the weights came from, as the output says it: the path, or "seeded weights".
  let weightsOrigin: String
  /// Checkpoint tensors the graph does not read, summarized.
  let ignoredWeights: String?

  /// Families whose timestep is a flow-matching time in [0, 1] rather than a DDPM step.
  static let flowMatchingFamilies: Set<String> = ["mmdit", "video-dit"]

  /// The timestep seeded inputs use: the middle of the model's schedule.
  var seededTimestep: Float { family.map(Self.flowMatchingFamilies.contains) == true ? 0.5 : 500 }

  init(_ argument: String, options: ModelOptions, weightsPath: String?, seed: UInt64 = 0) throws {
    let url = weightsPath.map { URL(fileURLWithPath: $0) }
    if argument.hasSuffix(".json") || FileManager.default.fileExists(atPath: argument) {
      let source = try GraphSource(argument, options: options)
      title = source.title
      family = nil
      graph = source.graph
    } else {
      let (modelFamily, config) = try ModelRegistry.resolve(argument, config: options.config)
      var overrides: [String: String] = [:]
      if let url, DiffusersFolder.isFolder(url), let checkpoint = DiffusersCheckpoints.model(forFamily: modelFamily.name) {
        overrides = try checkpoint.settings(fromDiffusersConfig: DiffusersFolder.config(at: url))
      }
      // What the user sets wins over the folder's config.
      overrides.merge(try options.overrides()) { _, user in user }
      title = "\(modelFamily.name)-\(config)"
      family = modelFamily.name
      graph = try modelFamily.trace(config: config, overrides: overrides)
    }
    if let url {
      let aliases = family.flatMap(DiffusersCheckpoints.model(forFamily:))?.checkpointAliases(for: graph.params.map(\.name)) ?? [:]
      let loaded = try WeightLoader.load(for: graph, from: url, aliases: aliases)
      weights = loaded.tensors
      weightsOrigin = url.path
      ignoredWeights = loaded.ignoredSummary
    } else {
      weights = try SeededWeights.initialize(for: graph, seed: seed)
      weightsOrigin = "seeded weights"
      ignoredWeights = nil
    }
  }
}
