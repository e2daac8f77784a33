import Foundation
import Tracer

/// A Llama-style decoder-only transformer (Touvron et al., 2023; Llama 3, 2024): RMSNorm,
/// rotary position embedding, grouped-query attention and a SwiGLU MLP. Kiln carries it as the
/// contrast to the media models: a GEMV-bound decode step and a GEMM-bound prefill.
///
/// Parameter names follow Hugging Face transformers' `LlamaForCausalLM`.
public enum Llama: ReferenceModel {
  public enum Mode: String, CaseIterable, Sendable {
    /// Runs `sequence` tokens from position 0 under a causal mask; no cache.
    case prefill
    /// Runs `sequence` new tokens (one, in the shipped configs) against a KV cache of
    /// `cacheLength` positions given as inputs, and returns the new tokens' keys and values.
    case decode
  }

  public struct Config: ModelConfiguration {
    /// `prefill` or `decode`.
    public var mode: String
    public var vocab: Int
    public var hidden: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var intermediate: Int
    public var ropeTheta: Double
    public var rmsEps: Double
    public var batch: Int
    /// Tokens this call runs: the prompt in prefill, the new tokens in decode.
    public var sequence: Int
    /// Positions already in the KV cache (decode only; prefill ignores it).
    public var cacheLength: Int

    public var parsedMode: Mode? { Mode(rawValue: mode) }
    public var headDim: Int { hidden / max(heads, 1) }
    /// Positions before this call's first token.
    public var positionOffset: Int { parsedMode == .decode ? cacheLength : 0 }

    public func validate() throws {
      func require(_ condition: Bool, _ message: String) throws {
        if !condition { throw ModelError.invalidConfig(family: Llama.family, message: message) }
      }
      try require(parsedMode != nil, "mode '\(mode)' is not one of \(Mode.allCases.map(\.rawValue).joined(separator: ", "))")
      try require([vocab, hidden, layers, heads, kvHeads, intermediate, batch, sequence].allSatisfy { $0 >= 1 },
                  "every size must be at least 1")
      try require(hidden % heads == 0, "hidden \(hidden) is not divisible by heads \(heads)")
      try require(headDim % 2 == 0, "head dimension \(headDim) must be even for the rotary embedding")
      try require(heads % kvHeads == 0, "heads \(heads) is not a multiple of kvHeads \(kvHeads)")
      try require(ropeTheta > 1, "ropeTheta \(ropeTheta) must be greater than 1")
      try require(rmsEps > 0, "rmsEps \(rmsEps) must be positive")
      try require(parsedMode != .decode || cacheLength >= 1, "decode needs cacheLength ≥ 1, got \(cacheLength)")
      try require(cacheLength >= 0, "cacheLength \(cacheLength) must not be negative")
    }
  }

  public static let family = "llama"
  public static let summary = "Llama-style decoder (RMSNorm, RoPE, grouped-query attention, SwiGLU), prefill or KV-cache decode"

  public static var configs: [(name: String, config: Config)] {
    // Meta Llama 3 8B (the 3.0 release: plain RoPE, no frequency scaling).
    let llama3_8B = Config(mode: "decode", vocab: 128_256, hidden: 4096, layers: 32, heads: 32, kvHeads: 8,
                           intermediate: 14_336, ropeTheta: 500_000, rmsEps: 1e-5, batch: 1, sequence: 1, cacheLength: 1024)
    // About 100 M parameters: a shape two cores run in milliseconds per token.
    let small = Config(mode: "decode", vocab: 16_384, hidden: 768, layers: 12, heads: 12, kvHeads: 4,
                       intermediate: 2048, ropeTheta: 500_000, rmsEps: 1e-5, batch: 1, sequence: 1, cacheLength: 512)
    // Awkward sizes on purpose: a prime vocabulary and sequence, two query heads per KV head.
    let tiny = Config(mode: "prefill", vocab: 61, hidden: 32, layers: 2, heads: 4, kvHeads: 2,
                      intermediate: 88, ropeTheta: 10_000, rmsEps: 1e-5, batch: 2, sequence: 7, cacheLength: 0)
    return [
      ("small-decode", small),
      ("small-prefill", prefill(small, sequence: 128)),
      ("8b-decode", llama3_8B),
      ("8b-prefill", prefill(llama3_8B, sequence: 512)),
      ("tiny", tiny),
      ("tiny-decode", decode(tiny, cacheLength: 5)),
    ]
  }

  private static func prefill(_ config: Config, sequence: Int) -> Config {
    var config = config
    (config.mode, config.sequence, config.cacheLength) = (Mode.prefill.rawValue, sequence, 0)
    return config
  }

  private static func decode(_ config: Config, cacheLength: Int) -> Config {
    var config = config
    (config.mode, config.sequence, config.cacheLength) = (Mode.decode.rawValue, 1, cacheLength)
    return config
  }

  /// Inputs: `input_ids` [B, S] i32 and, in decode, `past_key.{i}`/`past_value.{i}`
  /// [B, kvHeads, L, headDim] per layer (keys already rotated, as transformers caches them).
  /// Outputs: `logits` [B, S, vocab] and, in decode, `present_key.{i}`/`present_value.{i}`
  /// [B, kvHeads, S, headDim]: this call's keys and values, for the caller to append to its cache.
  public static func trace(_ config: Config) throws -> Graph {
    guard let mode = config.parsedMode else {
      throw ModelError.invalidConfig(family: family, message: "mode '\(config.mode)' is not prefill or decode")
    }
    return try Graph.trace { b in
      let inputIDs = b.input("input_ids", [config.batch, config.sequence], dtype: .i32)
      var cache: [(key: Tensor, value: Tensor)]? = nil
      if mode == .decode {
        let cacheShape: Shape = [config.batch, config.kvHeads, config.cacheLength, config.headDim]
        cache = (0..<config.layers).map { (b.input("past_key.\($0)", cacheShape), b.input("past_value.\($0)", cacheShape)) }
      }
      let (logits, present) = forward(b, config, inputIDs: inputIDs, cache: cache)
      b.output("logits", logits)
      if mode == .decode {
        for (layer, kv) in present.enumerated() {
          b.output("present_key.\(layer)", kv.key)
          b.output("present_value.\(layer)", kv.value)
        }
      }
    }
  }

  /// Token ids [B, S] → logits [B, S, vocab], and each layer's new (rotated) keys and values.
  public static func forward(_ b: GraphBuilder, _ config: Config, inputIDs: Tensor,
                             cache: [(key: Tensor, value: Tensor)]?) -> (logits: Tensor, present: [(key: Tensor, value: Tensor)]) {
    var present: [(key: Tensor, value: Tensor)] = []
    let hidden = b.scope("model") { () -> Tensor in
      var x = b.scope("embed_tokens") { b.param("weight", [config.vocab, config.hidden]) }.gather(inputIDs)
      let (cos, sin) = b.scope("rotary_emb") { rotaryTables(b, config) }
      let mask = config.sequence > 1 ? causalMask(b, queries: config.sequence, offset: config.positionOffset) : nil
      for layer in 0..<config.layers {
        x = b.scope("layers.\(layer)") {
          let (output, newKV) = decoderLayer(b, config, x, cos: cos, sin: sin, mask: mask, past: cache?[layer])
          present.append(newKV)
          return output
        }
      }
      return b.rmsNorm("norm", x, eps: config.rmsEps)
    }
    return (b.linear("lm_head", hidden, out: config.vocab, bias: false), present)
  }

  /// Pre-norm block: `x + attn(norm(x))`, then `h + mlp(norm(h))`.
  static func decoderLayer(_ b: GraphBuilder, _ config: Config, _ x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor?,
                           past: (key: Tensor, value: Tensor)?) -> (Tensor, (key: Tensor, value: Tensor)) {
    let normed = b.rmsNorm("input_layernorm", x, eps: config.rmsEps)
    let (attended, newKV) = b.scope("self_attn") {
      selfAttention(b, config, normed, cos: cos, sin: sin, mask: mask, past: past)
    }
    let h = x + attended
    let normedAgain = b.rmsNorm("post_attention_layernorm", h, eps: config.rmsEps)
    let fed = b.scope("mlp") { swiGLU(b, normedAgain, config) }
    return (h + fed, newKV)
  }

  /// Grouped-query attention: `kvHeads` key/value heads, each shared by heads/kvHeads query heads.
  static func selfAttention(_ b: GraphBuilder, _ config: Config, _ x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor?,
                            past: (key: Tensor, value: Tensor)?) -> (Tensor, (key: Tensor, value: Tensor)) {
    let (batch, tokens, d) = (x.dim(0), x.dim(1), config.headDim)
    func splitHeads(_ t: Tensor, _ count: Int) -> Tensor { t.reshape([batch, tokens, count, d]).permute([0, 2, 1, 3]) }
    let q = rope(splitHeads(b.linear("q_proj", x, out: config.heads * d, bias: false), config.heads),
                 cos: cos, sin: sin, layout: .halves)
    let k = rope(splitHeads(b.linear("k_proj", x, out: config.kvHeads * d, bias: false), config.kvHeads),
                 cos: cos, sin: sin, layout: .halves)
    let v = splitHeads(b.linear("v_proj", x, out: config.kvHeads * d, bias: false), config.kvHeads)

    let keys = past.map { Tensor.concat([$0.key, k], axis: 2) } ?? k
    let values = past.map { Tensor.concat([$0.value, v], axis: 2) } ?? v
    let groups = config.heads / config.kvHeads
    let o = attention(q, repeatKV(keys, groups), repeatKV(values, groups), mask: mask)
      .permute([0, 2, 1, 3]).reshape([batch, tokens, config.heads * d])
    return (b.linear("o_proj", o, out: config.hidden, bias: false), (k, v))
  }

  /// transformers' `repeat_kv`: [B, kvH, L, D] → [B, kvH·groups, L, D], each KV head repeated for
  /// the `groups` query heads that share it.
  static func repeatKV(_ x: Tensor, _ groups: Int) -> Tensor {
    guard groups > 1 else { return x }
    let (batch, kvHeads, length, d) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3))
    return x.reshape([batch, kvHeads, 1, length, d])
      .expand([batch, kvHeads, groups, length, d])
      .reshape([batch, kvHeads * groups, length, d])
  }

  /// `down_proj(silu(gate_proj(x)) · up_proj(x))`.
  static func swiGLU(_ b: GraphBuilder, _ x: Tensor, _ config: Config) -> Tensor {
    let gate = b.linear("gate_proj", x, out: config.intermediate, bias: false)
    let up = b.linear("up_proj", x, out: config.intermediate, bias: false)
    return b.linear("down_proj", silu(gate) * up, out: config.hidden, bias: false)
  }

  /// cos and sin [S, headDim/2] of this call's positions (offset by the cache length) times the
  /// inverse frequencies `θ^(−2i/headDim)`, as transformers' default `LlamaRotaryEmbedding`.
  static func rotaryTables(_ b: GraphBuilder, _ config: Config) -> (cos: Tensor, sin: Tensor) {
    let half = config.headDim / 2
    let inverseFrequencies = b.arange(half, start: 0, step: -2 * Foundation.log(config.ropeTheta) / Double(config.headDim)).exp()
    let positions = b.arange(config.sequence, start: Double(config.positionOffset))
    let angles = positions.reshape([config.sequence, 1]) * inverseFrequencies.reshape([1, half])
    return (angles.cos(), angles.sin())
  }

  /// Additive causal mask [S, offset + S]: query i (at position offset + i) sees keys 0…offset + i.
  /// Built from position differences clamped to {0, 1}, so no S×S table is stored in the graph.
  static func causalMask(_ b: GraphBuilder, queries: Int, offset: Int) -> Tensor {
    let keys = b.arange(offset + queries).reshape([1, offset + queries])
    let queryPositions = b.arange(queries, start: Double(offset)).reshape([queries, 1])
    let isFuture = (keys - queryPositions).maximum(b.scalar(0)).minimum(b.scalar(1))
    return isFuture * maskedScore
  }

  /// Added to the scores of masked keys: large enough that exp underflows to exactly zero after
  /// the row maximum is subtracted, small enough to stay finite in f32 and bf16.
  static let maskedScore = -1e9
}
