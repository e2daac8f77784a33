import Codegen
import Foundation
import Models
import Runtime
import Tracer

/// How every forward pass of a generation runs: which executor, on how many threads, for which
/// hardware profile. One executor is built per model and reused for every step.
public struct ExecutionOptions: Sendable {
  public enum ExecutorKind: String, Sendable, CaseIterable, Codable {
    case compiled, naive
    case eagerBLAS = "eager-blas"
  }

  public var executor: ExecutorKind
  public var threads: Int
  public var profile: String
  /// Where compiled modules are kept; nil: the default kernel cache.
  public var cache: ModuleCache?

  public init(executor: ExecutorKind = .compiled, threads: Int, profile: String = HardwareProfile.nativeName,
              cache: ModuleCache? = nil) {
    self.executor = executor
    self.threads = threads
    self.profile = profile
    self.cache = cache
  }
}

/// One traced model with its weights and the executor built for it.
public final class ModelSession {
  public let title: String
  public let graph: Graph
  /// Where the weights came from: a folder path or "seeded weights (seed N)".
  public let weightsOrigin: String
  /// FLOPs of one forward pass (GraphStatistics of the optimized graph).
  public let flops: Int
  public let executor: any Executor

  /// Traces `family`'s `config` with `overrides`, reads the settings and weights of a diffusers
  /// folder when one is given (the user's overrides win over its config.json), and builds the
  /// executor.
  public init(family familyName: String, config: String, overrides: [String: String], weightsFolder: URL?,
              weightSeed: UInt64, options: ExecutionOptions) throws {
    guard let family = ModelRegistry.family(named: familyName) else {
      throw GenerationError.model("unknown model family '\(familyName)'")
    }
    var settings: [String: String] = [:]
    let checkpoint = DiffusersCheckpoints.model(forFamily: familyName)
    if let weightsFolder {
      guard DiffusersFolder.isFolder(weightsFolder) else {
        throw GenerationError.model("--weights: \(weightsFolder.path) is not a diffusers model folder (config.json + diffusion_pytorch_model.safetensors)")
      }
      if let checkpoint {
        settings = try checkpoint.settings(fromDiffusersConfig: DiffusersFolder.config(at: weightsFolder))
      }
    }
    settings.merge(overrides) { _, chosen in chosen }
    title = "\(familyName)-\(config)"
    let traced = try family.trace(config: config, overrides: settings)
    graph = try traced.optimized()
    flops = GraphStatistics(graph).flops
    let weights: [String: RuntimeTensor]
    if let weightsFolder {
      let aliases = checkpoint?.checkpointAliases(for: graph.params.map(\.name)) ?? [:]
      weights = try WeightLoader.load(for: graph, from: weightsFolder, aliases: aliases).tensors
      weightsOrigin = weightsFolder.path
    } else {
      weights = try SeededWeights.initialize(for: graph, seed: weightSeed)
      weightsOrigin = "seeded weights (seed \(weightSeed))"
    }
    switch options.executor {
    case .compiled, .naive:
      let program = try Lowering.lower(graph: graph, profile: HardwareProfile.named(options.profile),
                                       mode: options.executor == .naive ? .naive : .compiled, name: title)
      executor = try CompiledExecutor(program: program, weights: weights, threads: options.threads, cache: options.cache)
    case .eagerBLAS:
      executor = try EagerBLASExecutor(graph: graph, weights: weights, threads: options.threads)
    }
  }

  /// The shape of a graph input, or an error naming it.
  public func inputShape(_ name: String) throws -> Shape {
    guard let id = graph.inputs.first(where: { $0.name == name })?.node else {
      throw GenerationError.model("\(title) has no input '\(name)'")
    }
    return graph[id].shape
  }

  /// Runs one forward pass and returns the named output's values.
  public func run(_ inputs: [String: RuntimeTensor], output: String = "noise_pred") throws -> [Float] {
    let outputs = try executor.run(inputs)
    guard let tensor = outputs[output] else { throw GenerationError.model("\(title) produced no output '\(output)'") }
    return tensor.floats
  }
}
