import Codegen
import Foundation

/// What a GEMM benchmark applies to each tile after the product, as the models use it.
public enum GemmEpilogue: String, Hashable, Sendable, Codable, CaseIterable {
  /// The bare product `x·Wᵀ`.
  case none
  /// `x·Wᵀ + b`: every linear layer.
  case bias
  /// `gelu_tanh(x·Wᵀ + b)`: the first MLP layer of DiT.
  case biasGeluTanh = "bias-gelu-tanh"
  /// `residual + gate · (x·Wᵀ + b)`, one gate per sample and column: DiT's adaLN-Zero branch ends
  /// (attention output projection, second MLP layer).
  case biasGateResidual = "bias-gate-residual"

  var hasBias: Bool { self != .none }
}

/// One GEMM of a kernel benchmark: C[M×N] = A[M×K]·Wᵀ with W stored [N, K] as a linear layer
/// stores it. The M rows are `batch` samples of M / batch tokens (the gate is per sample); a suite
/// gives the tokens per sample (`"tokens": 256`), as DiT-XL/2 at batch 2 has M = 2 × 256.
public struct GemmBenchmarkShape: Hashable, Sendable, Codable {
  public var m: Int
  public var n: Int
  public var k: Int
  public var batch: Int
  public var epilogue: GemmEpilogue

  public init(m: Int, n: Int, k: Int, batch: Int = 1, epilogue: GemmEpilogue) {
    self.m = m
    self.n = n
    self.k = k
    self.batch = batch
    self.epilogue = epilogue
  }

  /// 2·M·N·K: the product's multiply-adds; the epilogue's few FLOPs per output are not counted.
  public var flops: Int { 2 * m * n * k }

  public var spelled: String {
    "\(m)×\(n)×\(k)" + (batch > 1 ? " (batch \(batch))" : "") + (epilogue == .none ? "" : " + \(epilogue.rawValue)")
  }
}

/// One attention of a kernel benchmark: softmax(q·kᵀ/√D)·v per (sample, head) over Sq queries and
/// Skv keys of head dim D (KernelBenchmarkGraphs.attention has the graph).
public struct AttentionBenchmarkShape: Hashable, Sendable, Codable {
  /// Which model the shape is taken from, for the report (`DiT-XL/2`, `MMDiT joint 256+1024`).
  public var label: String
  public var batch: Int
  public var heads: Int
  public var queries: Int
  public var keys: Int
  public var headDim: Int

  public init(label: String, batch: Int, heads: Int, queries: Int, keys: Int, headDim: Int) {
    self.label = label
    self.batch = batch
    self.heads = heads
    self.queries = queries
    self.keys = keys
    self.headDim = headDim
  }

  /// 4·B·H·Sq·Skv·D: the two GEMMs (q·kᵀ and p·v). The softmax and the scale are left out, so
  /// the figure is comparable with a GEMM's peak; `GraphStatistics` adds about 6 FLOPs per score.
  public var flops: Int { 4 * batch * heads * queries * keys * headDim }

  public var spelled: String { "B\(batch) H\(heads) S\(queries)×\(keys) D\(headDim)" }
}

/// A `kernelBenchmarks` entry of a suite: GEMMs and attentions, each a tiny traced graph measured
/// with Kiln's compiled executor beside its OpenBLAS baseline, interleaved sample by sample.
public struct KernelBenchmarkRun: Hashable, Sendable {
  public var label: String
  public var gemm: [GemmBenchmarkShape]
  public var attention: [AttentionBenchmarkShape]
  /// The profile Kiln's kernels are lowered for.
  public var profile: String
  public var threads: [ThreadCount]
  public var warmups: Int
  public var repetitions: Int
}

extension Suite {
  public var kernelBenchmarkRuns: [KernelBenchmarkRun] {
    entries.compactMap { if case .kernelBenchmarks(let run) = $0 { return run } else { return nil } }
  }
}

extension SuiteParser {
  static let kernelBenchmarkKeys: Set<String> = ["label", "gemm", "attention", "profile", "threads", "warmups", "repetitions"]
  static let gemmKeys: Set<String> = ["m", "n", "k", "tokens", "epilogue"]
  static let attentionKeys: Set<String> = ["label", "batch", "heads", "queries", "keys", "headDim"]

  /// `{ "gemm": [...], "attention": [...], "threads": [1, "all"], "repetitions": 5 }`; `m` of a
  /// GEMM may be a list, one shape per value, and `tokens` (default: m) splits m into samples.
  /// The suite's `defaults` do not apply here.
  func kernelBenchmarkRun(_ run: [String: Any], at: String) throws -> KernelBenchmarkRun {
    try refuseUnknownKeys(run, allowed: Self.kernelBenchmarkKeys, at: at + ".")
    let gemm = try run["gemm"].map { value -> [GemmBenchmarkShape] in
      guard let items = value as? [Any] else { throw fail(at + ".gemm", "must be a list of shapes such as {\"m\": 256, \"n\": 1152, \"k\": 1152}") }
      return try items.enumerated().flatMap { index, item in try gemmShapes(item, at: "\(at).gemm[\(index)]") }
    } ?? []
    let attention = try run["attention"].map { value -> [AttentionBenchmarkShape] in
      guard let items = value as? [Any] else {
        throw fail(at + ".attention", "must be a list of shapes such as {\"batch\": 2, \"heads\": 16, \"queries\": 256, \"keys\": 256, \"headDim\": 72}")
      }
      return try items.enumerated().map { index, item in try attentionShape(item, at: "\(at).attention[\(index)]") }
    } ?? []
    guard !gemm.isEmpty || !attention.isEmpty else { throw fail(at, "names no shapes: give `gemm` or `attention` (or both) a non-empty list") }
    let label = try run["label"].map { try string($0, at + ".label") } ?? "kernel benchmarks"
    return KernelBenchmarkRun(
      label: label, gemm: gemm, attention: attention,
      profile: try run["profile"].map { try profile($0, at + ".profile") } ?? HardwareProfile.nativeName,
      threads: try run["threads"].map { try list($0, at + ".threads") { try threadCount($0, $1) } } ?? [.count(1), .all],
      warmups: try run["warmups"].map { try integer($0, at + ".warmups", minimum: 0) } ?? 1,
      repetitions: try run["repetitions"].map { try integer($0, at + ".repetitions", minimum: 1) } ?? 5)
  }

  /// The report has one kernel benchmark section: a second entry would have nowhere to go.
  func refuseSecondKernelBenchmarks(after entries: [SuiteEntry], at: String) throws {
    if let first = entries.firstIndex(where: { if case .kernelBenchmarks = $0 { return true } else { return false } }) {
      throw fail(at + ".kernelBenchmarks", "runs[\(first)] is already a kernelBenchmarks entry; a suite has at most one (put every shape in it)")
    }
  }

  func gemmShapes(_ value: Any, at: String) throws -> [GemmBenchmarkShape] {
    let shape = try object(value, at)
    try refuseUnknownKeys(shape, allowed: Self.gemmKeys, at: at + ".")
    func required(_ key: String) throws -> Any {
      guard let value = shape[key] else { throw fail("\(at).\(key)", "missing (a GEMM needs m, n and k)") }
      return value
    }
    let rows: [Int]
    if let list = try required("m") as? [Any] {
      guard !list.isEmpty else { throw fail(at + ".m", "is empty") }
      rows = try list.enumerated().map { try integer($1, "\(at).m[\($0)]", minimum: 1) }
    } else {
      rows = [try integer(try required("m"), at + ".m", minimum: 1)]
    }
    let n = try integer(try required("n"), at + ".n", minimum: 1)
    let k = try integer(try required("k"), at + ".k", minimum: 1)
    let epilogue = try shape["epilogue"].map { value -> GemmEpilogue in
      let name = try string(value, at + ".epilogue")
      guard let epilogue = GemmEpilogue(rawValue: name) else {
        throw fail(at + ".epilogue", "unknown epilogue '\(name)' (known: \(GemmEpilogue.allCases.map(\.rawValue).joined(separator: ", ")))")
      }
      return epilogue
    } ?? .none
    let tokens = try shape["tokens"].map { try integer($0, at + ".tokens", minimum: 1) }
    return try rows.map { m in
      let perSample = tokens ?? m
      guard m % perSample == 0 else { throw fail(at + ".tokens", "\(perSample) tokens per sample do not divide m = \(m)") }
      return GemmBenchmarkShape(m: m, n: n, k: k, batch: m / perSample, epilogue: epilogue)
    }
  }

  func attentionShape(_ value: Any, at: String) throws -> AttentionBenchmarkShape {
    let shape = try object(value, at)
    try refuseUnknownKeys(shape, allowed: Self.attentionKeys, at: at + ".")
    func size(_ key: String) throws -> Int {
      guard let value = shape[key] else { throw fail("\(at).\(key)", "missing (an attention needs heads, queries and headDim)") }
      return try integer(value, "\(at).\(key)", minimum: 1)
    }
    let queries = try size("queries")
    let keys = try shape["keys"].map { try integer($0, at + ".keys", minimum: 1) } ?? queries
    let batch = try shape["batch"].map { try integer($0, at + ".batch", minimum: 1) } ?? 1
    let (heads, headDim) = (try size("heads"), try size("headDim"))
    let label = try shape["label"].map { try string($0, at + ".label") } ?? "attention"
    return AttentionBenchmarkShape(label: label, batch: batch, heads: heads, queries: queries, keys: keys, headDim: headDim)
  }
}
