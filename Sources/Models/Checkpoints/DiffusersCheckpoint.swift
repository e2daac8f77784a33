import Foundation

/// A model whose weights can come from a diffusers folder (`config.json` +
/// `diffusion_pytorch_model.safetensors`): how the folder's config maps onto the model's settings,
/// and how the checkpoint's tensor names map onto the graph's params.
public protocol DiffusersCheckpoint: ReferenceModel {
  /// The `_class_name` values of the diffusers configs this model reads.
  static var diffusersClassNames: [String] { get }

  /// The `--set` overrides that make the model match the folder's `config.json`. Settings the
  /// config does not determine (batch, latent size of a decode) are left to the caller.
  static func settings(fromDiffusersConfig data: Data) throws -> [String: String]

  /// Other names a checkpoint may use for a graph param, tried in order when the param's own
  /// name is absent: `[param name: [checkpoint names]]`, for the given params.
  static func checkpointAliases(for params: [String]) -> [String: [String]]
}

/// The models that read diffusers folders, by family name.
public enum DiffusersCheckpoints {
  public static let models: [any DiffusersCheckpoint.Type] = [DiT.self, VAEDecoder.self]

  public static func model(forFamily family: String) -> (any DiffusersCheckpoint.Type)? {
    models.first { $0.family == family }
  }
}

/// Why a diffusers `config.json` cannot configure a model; names the field.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
  case invalidConfig(field: String, message: String)

  public var description: String {
    switch self {
    case .invalidConfig(let field, let message): return "config.json: '\(field)' \(message)"
    }
  }
}

/// The fields of a diffusers `config.json`, read with the type each must have.
struct DiffusersConfigFields {
  private let object: [String: Any]

  init(_ data: Data) throws {
    guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
      throw CheckpointError.invalidConfig(field: "(document)", message: "is not a JSON object")
    }
    self.object = object
  }

  func has(_ field: String) -> Bool { object[field].map { !($0 is NSNull) } ?? false }

  func string(_ field: String) throws -> String? {
    guard has(field) else { return nil }
    guard let value = object[field] as? String else { throw CheckpointError.invalidConfig(field: field, message: "must be a string") }
    return value
  }

  /// A positive integer; JSON booleans and fractions are refused.
  func positiveInteger(_ field: String) throws -> Int? {
    guard has(field) else { return nil }
    guard let value = Self.integer(object[field]), value >= 1 else {
      throw CheckpointError.invalidConfig(field: field, message: "must be a positive integer")
    }
    return value
  }

  func requiredPositiveInteger(_ field: String) throws -> Int {
    guard let value = try positiveInteger(field) else { throw CheckpointError.invalidConfig(field: field, message: "is missing") }
    return value
  }

  func positiveIntegers(_ field: String) throws -> [Int]? {
    guard has(field) else { return nil }
    guard let array = object[field] as? [Any], !array.isEmpty else {
      throw CheckpointError.invalidConfig(field: field, message: "must be a non-empty array of positive integers")
    }
    var values: [Int] = []
    for element in array {
      guard let value = Self.integer(element), value >= 1 else {
        throw CheckpointError.invalidConfig(field: field, message: "must be a non-empty array of positive integers")
      }
      values.append(value)
    }
    return values
  }

  func bool(_ field: String) throws -> Bool? {
    guard has(field) else { return nil }
    guard let number = object[field] as? NSNumber, Self.isBoolean(number) else {
      throw CheckpointError.invalidConfig(field: field, message: "must be true or false")
    }
    return number.boolValue
  }

  /// Requires `field`, when present, to be one of `allowed` (what the Kiln model computes).
  func require(_ field: String, in allowed: [String]) throws {
    guard let value = try string(field) else { return }
    guard allowed.contains(value) else {
      throw CheckpointError.invalidConfig(
        field: field, message: "is '\(value)'; Kiln's model implements \(allowed.map { "'\($0)'" }.joined(separator: " or "))")
    }
  }

  private static func integer(_ value: Any?) -> Int? {
    guard let number = value as? NSNumber, !isBoolean(number) else { return nil }
    let double = number.doubleValue
    guard double.rounded() == double, abs(double) < 1e15 else { return nil }
    return Int(double)
  }

  private static func isBoolean(_ number: NSNumber) -> Bool {
    String(cString: number.objCType) == "c" || String(describing: type(of: number)).contains("Bool")
  }
}

// MARK: - DiT

extension DiT: DiffusersCheckpoint {
  public static let diffusersClassNames = ["DiTTransformer2DModel", "Transformer2DModel"]

  /// `DiTTransformer2DModel`: heads × head dim = hidden, `num_layers` = depth, `sample_size` is the
  /// latent side (× 8 = resolution), `out_channels` = 2 · `in_channels` when σ is learned,
  /// `num_embeds_ada_norm` = classes.
  public static func settings(fromDiffusersConfig data: Data) throws -> [String: String] {
    let fields = try DiffusersConfigFields(data)
    try fields.require("_class_name", in: diffusersClassNames)
    try fields.require("norm_type", in: ["ada_norm_zero"])
    try fields.require("activation_fn", in: ["gelu-approximate"])
    let heads = try fields.requiredPositiveInteger("num_attention_heads")
    let headDim = try fields.requiredPositiveInteger("attention_head_dim")
    let inChannels = try fields.requiredPositiveInteger("in_channels")
    var settings: [String: String] = [
      "heads": "\(heads)",
      "hidden": "\(heads * headDim)",
      "depth": "\(try fields.requiredPositiveInteger("num_layers"))",
      "patch": "\(try fields.requiredPositiveInteger("patch_size"))",
      "resolution": "\(try fields.requiredPositiveInteger("sample_size") * 8)",
      "latentChannels": "\(inChannels)",
      "classes": "\(try fields.requiredPositiveInteger("num_embeds_ada_norm"))",
    ]
    let outChannels = try fields.positiveInteger("out_channels") ?? inChannels
    switch outChannels {
    case 2 * inChannels: settings["learnSigma"] = "true"
    case inChannels: settings["learnSigma"] = "false"
    default:
      throw CheckpointError.invalidConfig(
        field: "out_channels", message: "is \(outChannels); DiT needs in_channels (\(inChannels)) or twice that (learned σ)")
    }
    return settings
  }

  /// diffusers names DiT's params as Kiln does. Its per-block copies of the embedders
  /// (`transformer_blocks.{i}.norm1.emb.*`, i > 0) are unused: Kiln reads block 0's.
  public static func checkpointAliases(for params: [String]) -> [String: [String]] { [:] }
}

// MARK: - VAE decoder

extension VAEDecoder: DiffusersCheckpoint {
  public static let diffusersClassNames = ["AutoencoderKL"]

  /// `AutoencoderKL`: `block_out_channels`, `layers_per_block`, `norm_num_groups`,
  /// `latent_channels`, `out_channels`. The encoder's fields are not read.
  public static func settings(fromDiffusersConfig data: Data) throws -> [String: String] {
    let fields = try DiffusersConfigFields(data)
    try fields.require("_class_name", in: diffusersClassNames)
    try fields.require("act_fn", in: ["silu"])
    if try fields.bool("mid_block_add_attention") == false {
      throw CheckpointError.invalidConfig(field: "mid_block_add_attention", message: "is false; Kiln's decoder has the mid-block attention")
    }
    if try fields.bool("use_post_quant_conv") == false {
      throw CheckpointError.invalidConfig(field: "use_post_quant_conv", message: "is false; Kiln's decoder has post_quant_conv")
    }
    guard let widths = try fields.positiveIntegers("block_out_channels") else {
      throw CheckpointError.invalidConfig(field: "block_out_channels", message: "is missing")
    }
    return [
      "blockOutChannels": widths.map(String.init).joined(separator: ","),
      "layersPerBlock": "\(try fields.requiredPositiveInteger("layers_per_block"))",
      "groups": "\(try fields.requiredPositiveInteger("norm_num_groups"))",
      "latentChannels": "\(try fields.requiredPositiveInteger("latent_channels"))",
      "outChannels": "\(try fields.requiredPositiveInteger("out_channels"))",
    ]
  }

  /// VAE checkpoints saved before diffusers renamed its attention (sd-vae-ft-mse, say) call the
  /// mid block's projections `query`, `key`, `value` and `proj_attn`.
  public static func checkpointAliases(for params: [String]) -> [String: [String]] {
    let legacy = [".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."]
    var aliases: [String: [String]] = [:]
    for name in params {
      for (current, old) in legacy where name.contains(current) {
        aliases[name] = [name.replacingOccurrences(of: current, with: old)]
      }
    }
    return aliases
  }
}
