import Tracer

/// The tiny traced graphs a kernel benchmark measures, written with the same DSL helpers the
/// models use, so that Kiln finds the GEMM, its epilogue and the attention by pattern exactly as
/// it does inside DiT, and the normal path (Lowering → CompiledExecutor) measures them.
public enum KernelBenchmarkGraphs {
  /// `x` [batch, M / batch, K] through a linear layer (`weight` [N, K]) and `epilogue`:
  /// - `bias`: `x·Wᵀ + b`;
  /// - `bias-gelu-tanh`: `gelu(x·Wᵀ + b, tanh)` (DiT's `ff.net.0`);
  /// - `bias-gate-residual`: `residual + gate.unsqueeze(1) · (x·Wᵀ + b)` with `gate` [batch, N]
  ///   (DiT's `h = x + gate_msa.unsqueeze(1) · attn(…)`).
  public static func gemm(_ shape: GemmBenchmarkShape, epilogue: GemmEpilogue) throws -> Graph {
    let tokens = shape.m / shape.batch
    return try Graph.trace { b in
      let x = b.input("x", [shape.batch, tokens, shape.k])
      let weight = b.param("weight", [shape.n, shape.k])
      var y = linear(x, weight: weight, bias: epilogue.hasBias ? b.param("bias", [shape.n]) : nil)
      switch epilogue {
      case .none, .bias:
        break
      case .biasGeluTanh:
        y = gelu(y, approximation: .tanh)
      case .biasGateResidual:
        let gate = b.input("gate", [shape.batch, shape.n])
        y = b.input("residual", [shape.batch, tokens, shape.n]) + gate.unsqueeze(1) * y
      }
      b.output("y", y)
    }
  }

  /// `softmax(q·kᵀ/√D)·v` per head, written as DiT's self-attention writes it around `attention`:
  /// q [B, Sq, H·D], k and v [B, Skv, H·D] (the projections' outputs) split into heads by reshape
  /// and permute, the result merged back to [B, Sq, H·D]. Kiln reads and writes the token-major
  /// layout in place; eager-blas copies the permuted heads, as a framework's eager mode does.
  public static func attention(_ shape: AttentionBenchmarkShape) throws -> Graph {
    let (batch, heads, headDim) = (shape.batch, shape.heads, shape.headDim)
    return try Graph.trace { b in
      func splitHeads(_ t: Tensor) -> Tensor { t.reshape([batch, t.dim(1), heads, headDim]).permute([0, 2, 1, 3]) }
      let q = b.input("q", [batch, shape.queries, heads * headDim])
      let k = b.input("k", [batch, shape.keys, heads * headDim])
      let v = b.input("v", [batch, shape.keys, heads * headDim])
      let o = Tracer.attention(splitHeads(q), splitHeads(k), splitHeads(v))
      b.output("o", o.permute([0, 2, 1, 3]).reshape([batch, shape.queries, heads * headDim]))
    }
  }
}
