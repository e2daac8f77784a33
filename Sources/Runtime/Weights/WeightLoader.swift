import Foundation
import Tracer

/// A weight a graph reads: a `param` leaf's name, shape and dtype.
public struct WeightRequirement: Sendable, Equatable {
  public var name: String
  public var shape: Shape
  public var dtype: DType

  public init(name: String, shape: Shape, dtype: DType) {
    self.name = name
    self.shape = shape
    self.dtype = dtype
  }

  /// Every distinct param of `graph`, in graph order; a name declared twice with different shapes
  /// or dtypes is refused.
  public static func all(of graph: Graph) throws(RuntimeError) -> [WeightRequirement] {
    var requirements: [WeightRequirement] = []
    var byName: [String: WeightRequirement] = [:]
    for (name, id) in graph.params {
      let requirement = WeightRequirement(name: name, shape: graph[id].shape, dtype: graph[id].dtype)
      if let earlier = byName[name] {
        guard earlier == requirement else {
          throw RuntimeError.invalidWeights(
            "the graph declares param '\(name)' twice, as \(earlier.shape) \(earlier.dtype) and \(requirement.shape) \(requirement.dtype)")
        }
        continue
      }
      byName[name] = requirement
      requirements.append(requirement)
    }
    return requirements
  }
}

/// A model's weights read from checkpoint files, and what the files held that the model did not use.
public struct LoadedWeights: Sendable {
  /// By graph param name.
  public var tensors: [String: RuntimeTensor]
  /// Checkpoint tensors no param asked for (the VAE's encoder, DiT's per-block copies of the
  /// embedders), sorted.
  public var ignored: [String]

  /// The ignored names grouped by their leading components (`encoder.*`,
  /// `transformer_blocks.*.norm1.*`), largest group first, ties by pattern.
  public var ignoredGroups: [(pattern: String, count: Int)] {
    var counts: [String: Int] = [:]
    for name in ignored { counts[Self.groupPattern(of: name), default: 0] += 1 }
    return counts.map { (pattern: $0.key, count: $0.value) }.sorted { ($1.count, $0.pattern) < ($0.count, $1.pattern) }
  }

  /// One line for the CLI, e.g. `ignored 123 tensors (encoder.*: 120, quant_conv.*: 3)`; nil when
  /// every tensor was used.
  public var ignoredSummary: String? {
    guard !ignored.isEmpty else { return nil }
    let groups = ignoredGroups.map { "\($0.pattern): \($0.count)" }.joined(separator: ", ")
    return "ignored \(ignored.count) tensor\(ignored.count == 1 ? "" : "s") (\(groups))"
  }

  /// The first component, and when the second is a block index, the index as `*` and the third.
  static func groupPattern(of name: String) -> String {
    let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard parts.count > 1 else { return name }
    if parts.count > 3, Int(parts[1]) != nil { return "\(parts[0]).*.\(parts[2]).*" }
    return "\(parts[0]).*"
  }
}

/// Reads a model's weights from safetensors files by the graph's param names.
public enum WeightLoader {
  /// Loads every requirement from `files` (one file, or the shards of one checkpoint).
  ///
  /// A param is looked up under its own name, then under each of `aliases[name]` in order (for
  /// checkpoints that spell a tensor another way). A missing tensor, a shape that differs from the
  /// model's, or a dtype of the wrong kind is refused naming the tensor; tensors nobody asked for
  /// are skipped and listed in `ignored`.
  public static func load(_ requirements: [WeightRequirement], from files: [URL],
                          aliases: [String: [String]] = [:]) throws(RuntimeError) -> LoadedWeights {
    guard !files.isEmpty else { throw RuntimeError.invalidWeights("no weight file given") }
    var opened: [SafetensorsFile] = []
    var owner: [String: Int] = [:]
    for url in files {
      let file = try SafetensorsFile(contentsOf: url)
      for name in file.entries.keys {
        if let other = owner[name] {
          throw RuntimeError.invalidWeights(
            "tensor '\(name)' is in both \(opened[other].url.lastPathComponent) and \(url.lastPathComponent)")
        }
        owner[name] = opened.count
      }
      opened.append(file)
    }

    var tensors: [String: RuntimeTensor] = [:]
    var used = Set<String>()
    for requirement in requirements {
      let candidates = [requirement.name] + (aliases[requirement.name] ?? [])
      guard let found = candidates.first(where: { owner[$0] != nil }), let fileIndex = owner[found] else {
        throw missing(requirement, candidates: candidates, files: opened)
      }
      let file = opened[fileIndex]
      guard let entry = file.entries[found] else { throw missing(requirement, candidates: candidates, files: opened) }
      try check(entry, against: requirement, in: file)
      tensors[requirement.name] = try file.tensor(entry)
      used.insert(found)
    }
    let ignored = owner.keys.filter { !used.contains($0) }.sorted()
    return LoadedWeights(tensors: tensors, ignored: ignored)
  }

  /// Loads the weights `graph` reads from `url`: a safetensors file, or a folder as diffusers'
  /// `save_pretrained` writes it (see `DiffusersFolder`).
  public static func load(for graph: Graph, from url: URL, aliases: [String: [String]] = [:]) throws(RuntimeError) -> LoadedWeights {
    try load(try WeightRequirement.all(of: graph), from: try DiffusersFolder.weightFiles(at: url), aliases: aliases)
  }

  private static func check(_ entry: SafetensorsEntry, against requirement: WeightRequirement,
                            in file: SafetensorsFile) throws(RuntimeError) {
    let place = "tensor '\(entry.name)' in \(file.url.lastPathComponent)"
    guard entry.shape == requirement.shape else {
      throw RuntimeError.invalidWeights("\(place) has shape \(entry.shape), the model needs \(requirement.shape)")
    }
    guard entry.dtype.isFloatingPoint == requirement.dtype.isFloatingPoint else {
      throw RuntimeError.invalidWeights("\(place) is \(entry.dtype.rawValue), the model needs \(requirement.dtype)")
    }
  }

  private static func missing(_ requirement: WeightRequirement, candidates: [String], files: [SafetensorsFile]) -> RuntimeError {
    let place = files.count == 1
      ? files[0].url.lastPathComponent
      : "none of \(files.map(\.url.lastPathComponent).joined(separator: ", "))"
    let also = candidates.count > 1 ? " (nor \(candidates.dropFirst().map { "'\($0)'" }.joined(separator: ", ")))" : ""
    let verb = files.count == 1 ? "has no" : "holds"
    return RuntimeError.invalidWeights(
      "\(place) \(verb) tensor '\(requirement.name)'\(also), which the model needs with shape \(requirement.shape)")
  }
}

/// A model folder as diffusers' `save_pretrained` writes it: `config.json` beside
/// `diffusion_pytorch_model.safetensors`, or beside shards listed by
/// `diffusion_pytorch_model.safetensors.index.json`.
public enum DiffusersFolder {
  public static let weightsName = "diffusion_pytorch_model.safetensors"
  public static let indexName = "diffusion_pytorch_model.safetensors.index.json"
  public static let configName = "config.json"

  public static func isFolder(_ url: URL) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
  }

  /// The folder's `config.json`, as bytes for the model's checkpoint naming to read.
  public static func config(at folder: URL) throws(RuntimeError) -> Data {
    let url = folder.appendingPathComponent(configName)
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw RuntimeError.invalidWeights("\(folder.path) has no readable \(configName)")
    }
    return data
  }

  /// The safetensors files to read for `url`: the file itself, or a folder's single weights file
  /// or its shards.
  public static func weightFiles(at url: URL) throws(RuntimeError) -> [URL] {
    guard FileManager.default.fileExists(atPath: url.path) else { throw RuntimeError.invalidWeights("\(url.path) does not exist") }
    guard isFolder(url) else { return [url] }
    let single = url.appendingPathComponent(weightsName)
    if FileManager.default.fileExists(atPath: single.path) { return [single] }
    let index = url.appendingPathComponent(indexName)
    if FileManager.default.fileExists(atPath: index.path) { return try shards(listedBy: index, in: url) }
    let pickle = url.appendingPathComponent("diffusion_pytorch_model.bin")
    if FileManager.default.fileExists(atPath: pickle.path) {
      throw RuntimeError.invalidWeights("\(url.path) holds PyTorch pickle weights only (\(pickle.lastPathComponent)); save them as safetensors")
    }
    throw RuntimeError.invalidWeights("\(url.path) has neither \(weightsName) nor \(indexName)")
  }

  /// The distinct files of the index's `weight_map`, each a plain name inside the folder.
  private static func shards(listedBy index: URL, in folder: URL) throws(RuntimeError) -> [URL] {
    let name = index.lastPathComponent
    guard let data = FileManager.default.contents(atPath: index.path),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw RuntimeError.invalidWeights("\(name) is not a JSON object")
    }
    guard let weightMap = object["weight_map"] as? [String: String] else {
      throw RuntimeError.invalidWeights("\(name): field 'weight_map' must map tensor names to file names")
    }
    let shardNames = Set(weightMap.values).sorted()
    guard !shardNames.isEmpty else { throw RuntimeError.invalidWeights("\(name): 'weight_map' lists no file") }
    var files: [URL] = []
    for shard in shardNames {
      guard !shard.contains("/"), !shard.contains("\\"), shard != ".", shard != "..", shard.hasSuffix(".safetensors") else {
        throw RuntimeError.invalidWeights("\(name): 'weight_map' names '\(shard)', not a .safetensors file inside the folder")
      }
      let url = folder.appendingPathComponent(shard)
      guard FileManager.default.fileExists(atPath: url.path) else {
        throw RuntimeError.invalidWeights("\(name) lists \(shard), which is not in \(folder.path)")
      }
      files.append(url)
    }
    return files
  }
}
