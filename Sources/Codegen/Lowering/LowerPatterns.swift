import Foundation
import Tracer

// Lowering of the patterns PatternSet found (compiled mode) into template instances. When a
// match does not fit its template (an epilogue order the template cannot apply, a layout it
// cannot address), its nodes are lowered one by one instead: slower, never wrong.

extension LoweringContext {
  mutating func lower(_ match: PatternMatch) throws(CodegenError) {
    let fused: Bool
    switch match {
    case .gemm(let gemm):
      if let weight = gemm.bIsWeight ? weightSource(of: graph.nodes[gemm.matmul].operands[1]) : nil {
        fused = try lowerGemm(output: gemm.output, matmul: gemm.matmul, a: gemm.a, weight: weight,
                              epilogue: gemm.epilogue, nodes: gemm.nodes)
      } else {
        fused = false
      }
    case .attention(let attention):
      fused = try lowerAttention(attention)
    case .normalization(let normalization):
      fused = try lowerNormalization(normalization)
    case .softmax(let softmax):
      fused = try lowerSoftmax(softmax)
    case .pointwise(let region):
      try lowerRegion(nodes: region.nodes, output: region.output, template: "pointwise")
      fused = true
    }
    if fused {
      loweredPatterns[match.kind.rawValue, default: 0] += 1
    } else {
      for id in match.nodes where !Self.isView(node(id).op) { try lowerSingle(id) }
    }
  }

  // MARK: GEMM

  /// `[rows, K] · W` with the epilogue applied in registers, when the template can apply it in
  /// its fixed order (scale, bias, activation, gate, residual). Returns false to decline.
  mutating func lowerGemm(output: Int, matmul: Int, a: Int, weight: (leaf: Int, transposed: Bool),
                          epilogue: [Epilogue], nodes: [Int]) throws(CodegenError) -> Bool {
    let stageOrder: [Int] = epilogue.map {
      switch $0 {
      case .scale: return 0
      case .bias: return 1
      case .activation: return 2
      case .gate: return 3
      case .residual: return 4
      }
    }
    guard stageOrder == stageOrder.sorted(), Set(stageOrder).count == stageOrder.count else { return false }
    let wShape = node(weight.leaf).shape.dims
    let (k, n) = weight.transposed ? (wShape[1], wShape[0]) : (wShape[0], wShape[1])
    let outputDims = node(output).shape.dims
    let rows = node(matmul).shape.elementCount / n
    let lead = Array(node(matmul).shape.dims.dropLast())
    guard node(output).shape.elementCount == rows * n else { return false }

    var fields: [String] = []
    var parameters: [String] = []
    var extraArguments: [KernelArgument] = []
    var reads: [StridedView] = []
    for step in epilogue {
      switch step {
      case .scale(let factor):
        fields.append(".alpha = \(Self.literal(factor))")
      case .bias(let id):
        guard case .view(let view) = try value(id), let vector = view.reshaped(to: [n]), n == 1 || vector.strides[0] == 1
        else { return false }
        fields.append(".bias_col = bias")
        parameters.append("const float *bias")
        extraArguments.append(argument(vector, "const float *"))
        reads.append(vector)
      case .activation(let activation):
        fields.append(".activation = \(Self.activationConstant(activation))")
      case .gate(let id):
        guard case .view(let view) = try value(id),
              let (gate, ld, rowsPerBatch) = Self.perBatchRows(view, lead: lead, width: n) else { return false }
        fields += [".gate = gate", ".gate_ld = \(ld)", ".gate_rows_per_batch = \(rowsPerBatch)"]
        parameters.append("const float *gate")
        extraArguments.append(argument(gate, "const float *"))
        reads.append(gate)
      case .residual(let id):
        let (residual, ld) = try rowsOrCopy(try view(id), width: n)
        fields += [".residual = residual", ".residual_ld = \(ld)"]
        parameters.append("const float *residual")
        extraArguments.append(argument(residual, "const float *"))
        reads.append(residual)
      }
    }
    let (aRows, lda) = try rowsOrCopy(try view(a), width: k)
    let slot = try weightSlot(param: weight.leaf, packing: .gemmB(k: k, n: n, strideK: weight.transposed ? 1 : n,
                                                                   strideN: weight.transposed ? k : 1))
    let result = StridedView.contiguous(.activation(newBuffer(elements: rows * n)), shape: outputDims)
    let blocking = profile.blocking
    let epilogueText = fields.isEmpty ? "KILN_NO_EPILOGUE" : "KILN_EPILOGUE(\(fields.joined(separator: ", ")))"
    let function = """
      static void \(Self.placeholder)(const float *a, const float *b, \(parameters.map { $0 + ", " }.joined())float *c,
                                      float *scratch, int thread_id, int n_threads) {
        kiln_gemm(a, \(lda), b, c, \(n), \(rows), \(n), \(k), KILN_BLOCKING(\(blocking.mc), \(blocking.kc), \(blocking.nc)),
                  \(epilogueText), scratch, thread_id, n_threads);
      }

      """
    let weightView = StridedView.contiguous(.weight(slot), shape: [k, n])
    append(LoweredKernel(
      template: "gemm", function: function,
      arguments: [argument(aRows, "const float *"), argument(weightView, "const float *")] + extraArguments
        + [argument(result, "float *")],
      scratchFloats: "KILN_GEMM_SCRATCH_FLOATS(\(blocking.mc), \(blocking.kc))",
      reads: Self.buffers([aRows] + reads), writes: Self.buffers([result]), nodes: nodes, flops: flops(of: nodes),
      bytes: Self.bytes([aRows, result] + reads) + 4 * k * n, group: nil))
    values[output] = .view(result)
    return true
  }

  /// A tensor broadcast over the rows of an [rows, width] result whose leading shape is `lead`,
  /// addressed as `(row / rowsPerBatch) · ld + column` — adaLN's per-sample gate, shift and scale.
  static func perBatchRows(_ view: StridedView, lead: [Int], width: Int) -> (StridedView, Int, Int)? {
    guard (try? ShapeInference.broadcast(Shape(view.shape), Shape(lead + [width]))) == Shape(lead + [width]) else {
      return nil
    }
    let full = view.expanded(to: lead + [width])
    guard width == 1 || full.strides.last == 1 else { return nil }
    let strides = Array(full.strides.dropLast())
    // Axes from `split` on are broadcast (stride 0); the axes before it must be dense among themselves.
    var split = strides.count
    while split > 0, strides[split - 1] == 0 || lead[split - 1] == 1 { split -= 1 }
    for axis in 0..<max(split - 1, 0) where lead[axis] > 1 {
      var next = axis + 1
      while next < split - 1, lead[next] == 1 { next += 1 }
      guard strides[axis] == strides[next] * lead[next] else { return nil }
    }
    let rowsPerBatch = lead[split...].reduce(1, *)
    let ld = split > 0 ? strides[split - 1] : 0
    return (full, ld, max(rowsPerBatch, 1))
  }

  static func activationConstant(_ activation: Activation) -> String {
    switch activation {
    case .geluTanh: return "KILN_ACT_GELU_TANH"
    case .geluErf: return "KILN_ACT_GELU_ERF"
    case .silu: return "KILN_ACT_SILU"
    }
  }

  /// A float literal that reads back to the same fp32 value.
  static func literal(_ value: Double) -> String {
    let float = Float(value)
    guard float.isFinite else { return float > 0 ? "__builtin_inff()" : (float < 0 ? "(-__builtin_inff())" : "__builtin_nanf(\"\")") }
    return String(format: "%.9gf", Double(float))
  }

  // MARK: Attention

  mutating func lowerAttention(_ match: AttentionMatch) throws(CodegenError) -> Bool {
    guard match.batchShape.count <= 2, match.valueDim == match.headDim else { return false }
    let (batch, heads) = match.batchShape.count == 2 ? (match.batchShape[0], match.batchShape[1])
      : (match.batchShape.first ?? 1, 1)
    let (s, l, d) = (match.queryLength, match.keyLength, match.headDim)

    /// (pointer view, batch stride, head stride, row stride) of a [batch…, rows, D] operand with dense rows.
    func addressed(_ id: Int, rows: Int, transposed: Bool) throws(CodegenError) -> (StridedView, Int, Int, Int) {
      var view = try self.view(id)
      let rank = view.shape.count
      if transposed { view = view.permuted(Array(0..<(rank - 2)) + [rank - 1, rank - 2]) }
      view = view.expanded(to: match.batchShape + [rows, d])
      if d > 1, view.strides.last != 1 { view = try materialize(view) }
      let strides = view.strides
      let r = strides.count
      switch match.batchShape.count {
      case 2: return (view, strides[0], strides[1], strides[r - 2])
      case 1: return (view, strides[0], 0, strides[r - 2])
      default: return (view, 0, 0, strides[r - 2])
      }
    }
    let q = try addressed(match.q, rows: s, transposed: false)
    let k = try addressed(match.k, rows: l, transposed: match.keyLayout == .transposedStored)
    let v = try addressed(match.v, rows: l, transposed: false)
    var mask: (StridedView, Int, Int, Int)?
    if let maskID = match.mask {
      var view = try self.view(maskID).expanded(to: match.batchShape + [s, l])
      if l > 1, view.strides.last != 1 { view = try materialize(view) }
      let st = view.strides
      let r = st.count
      switch match.batchShape.count {
      case 2: mask = (view, st[0], st[1], st[r - 2])
      case 1: mask = (view, st[0], 0, st[r - 2])
      default: mask = (view, 0, 0, st[r - 2])
      }
    }
    // The output is written as [batch, S, heads, D]: the usual next step (heads merged back into
    // the width, then a projection) then reads it as dense rows without a copy.
    let buffer = newBuffer(elements: batch * heads * s * d)
    let stored = StridedView.contiguous(.activation(buffer), shape: [batch, s, heads, d])
    var outputView = stored.permuted([0, 2, 1, 3])
    outputView = StridedView(storage: outputView.storage, offset: 0, shape: match.batchShape + [s, d],
                             strides: match.batchShape.count == 2 ? outputView.strides
                               : (match.batchShape.count == 1 ? [outputView.strides[0]] + outputView.strides.suffix(2)
                                                              : Array(outputView.strides.suffix(2))))
    let (ob, oh, orow) = (s * heads * d, d, heads * d)
    let maskText = mask.map { "mask, KILN_STRIDES(\($0.1), \($0.2), \($0.3))" } ?? "0, KILN_STRIDES(0, 0, 0)"
    let function = """
      static void \(Self.placeholder)(const float *q, const float *k, const float *v, \(mask == nil ? "" : "const float *mask, ")float *o,
                                      float *scratch, int thread_id, int n_threads) {
        kiln_attention(q, KILN_STRIDES(\(q.1), \(q.2), \(q.3)), k, KILN_STRIDES(\(k.1), \(k.2), \(k.3)),
                       v, KILN_STRIDES(\(v.1), \(v.2), \(v.3)), o, KILN_STRIDES(\(ob), \(oh), \(orow)),
                       \(maskText), \(batch), \(heads), \(s), \(l), \(d), \(Self.literal(match.scale)),
                       scratch, thread_id, n_threads);
      }

      """
    var arguments = [argument(q.0, "const float *"), argument(k.0, "const float *"), argument(v.0, "const float *")]
    var reads = [q.0, k.0, v.0]
    if let mask {
      arguments.append(argument(mask.0, "const float *"))
      reads.append(mask.0)
    }
    arguments.append(argument(stored, "float *"))
    append(LoweredKernel(
      template: "attention", function: function, arguments: arguments,
      scratchFloats: "KILN_ATTENTION_SCRATCH_FLOATS(\(d), \(l))", reads: Self.buffers(reads), writes: [buffer],
      nodes: match.nodes, flops: flops(of: match.nodes), bytes: Self.bytes(reads + [stored]), group: nil))
    values[match.output] = .view(outputView)
    return true
  }

  // MARK: Normalization

  mutating func lowerNormalization(_ match: NormalizationMatch) throws(CodegenError) -> Bool {
    let input = try view(match.input)
    let shape = node(match.input).shape.dims
    guard node(match.output).shape.dims == shape else { return false }
    func vector(_ id: Int?, length: Int) throws(CodegenError) -> StridedView?? {
      guard let id else { return .some(nil) }
      guard case .view(let view) = try value(id), let vector = view.reshaped(to: [length]),
            length == 1 || vector.strides[0] == 1 else { return nil }
      return .some(vector)
    }
    if match.kind == .groupNorm {
      let channels = shape.count > 1 ? shape[1] : 1
      guard match.modulationScale == nil, match.modulationShift == nil,
            case .some(let weight) = try vector(match.weight, length: channels),
            case .some(let bias) = try vector(match.bias, length: channels) else { return false }
      let x = try denseOrCopy(input)
      let spatial = shape.dropFirst(2).reduce(1, *)
      let result = StridedView.contiguous(.activation(newBuffer(elements: x.elementCount)), shape: shape)
      // An activation reading only the normalized tensor (the SiLU of a VAE's ResNet) is applied
      // as each element is stored.
      let activation = followingActivation(of: match.output)
      let function = """
        static void \(Self.placeholder)(const float *x, \(weight == nil ? "" : "const float *weight, ")\
        \(bias == nil ? "" : "const float *bias, ")float *y, int thread_id, int n_threads) {
          kiln_groupnorm(x, y, \(shape[0]), \(channels), \(spatial), \(match.groups), \(Self.literal(match.eps)),
                         \(weight == nil ? "0" : "weight"), \(bias == nil ? "0" : "bias"), \
        \(activation.map { Self.activationConstant($0.kind) } ?? "KILN_ACT_NONE"), thread_id, n_threads);
        }

        """
      let arguments = [argument(x, "const float *")] + [weight, bias].compactMap { $0 }.map { argument($0, "const float *") }
        + [argument(result, "float *")]
      let nodes = match.nodes + (activation?.nodes ?? [])
      absorbed.formUnion(activation?.nodes ?? [])
      append(LoweredKernel(
        template: "groupnorm", function: function, arguments: arguments, scratchFloats: nil,
        reads: Self.buffers([x]), writes: Self.buffers([result]), nodes: nodes, flops: flops(of: nodes),
        bytes: Self.bytes([x, result]), group: nil))
      values[activation?.output ?? match.output] = .view(result)
      return true
    }

    let width = match.rowLength
    guard shape.last == width, case .some(let weight) = try vector(match.weight, length: width),
          case .some(let bias) = try vector(match.bias, length: width) else { return false }
    let lead = Array(shape.dropLast())
    var modulation: [(StridedView, Int, Int)] = []
    for id in [match.modulationScale, match.modulationShift].compactMap({ $0 }) {
      guard case .view(let view) = try value(id), let addressed = Self.perBatchRows(view, lead: lead, width: width) else {
        return false
      }
      modulation.append(addressed)
    }
    // The template takes one row stride and one rows-per-batch for both modulation tensors.
    guard Set(modulation.map(\.1)).count <= 1, Set(modulation.map(\.2)).count <= 1 else { return false }
    let (x, ldx) = try rowsOrCopy(input, width: width)
    let rows = x.shape[0]
    let result = StridedView.contiguous(.activation(newBuffer(elements: rows * width)), shape: shape)
    let scale = match.modulationScale == nil ? nil : modulation.first
    let shift = match.modulationShift == nil ? nil : modulation.last
    let modLd = modulation.first?.1 ?? 0
    let rowsPerBatch = modulation.first?.2 ?? max(rows, 1)
    var parameters: [String] = []
    var extra: [StridedView] = []
    for (name, view) in [("weight", weight), ("bias", bias), ("mod_scale", scale?.0), ("mod_shift", shift?.0)] {
      if let view {
        parameters.append("const float *\(name)")
        extra.append(view)
      }
    }
    let function = """
      static void \(Self.placeholder)(const float *x, \(parameters.map { $0 + ", " }.joined())float *y, int thread_id, int n_threads) {
        kiln_rownorm(x, \(ldx), y, \(width), \(rows), \(width), \(match.kind == .rmsNorm ? "KILN_NORM_RMS" : "KILN_NORM_LAYER"),
                     \(Self.literal(match.eps)), \(weight == nil ? "0" : "weight"), \(bias == nil ? "0" : "bias"),
                     \(scale == nil ? "0" : "mod_scale"), \(shift == nil ? "0" : "mod_shift"), \(modLd), \(rowsPerBatch),
                     thread_id, n_threads);
      }

      """
    append(LoweredKernel(
      template: "rownorm", function: function,
      arguments: [argument(x, "const float *")] + extra.map { argument($0, "const float *") } + [argument(result, "float *")],
      scratchFloats: nil, reads: Self.buffers([x] + extra), writes: Self.buffers([result]), nodes: match.nodes,
      flops: flops(of: match.nodes), bytes: Self.bytes([x, result] + extra), group: nil))
    values[match.output] = .view(result)
    return true
  }

  // MARK: Softmax

  mutating func lowerSoftmax(_ match: SoftmaxMatch) throws(CodegenError) -> Bool {
    let input = try view(match.input)
    let rank = input.shape.count
    let order = (0..<rank).filter { $0 != match.axis } + [match.axis]
    let space = order.map { input.shape[$0] }
    let result = StridedView.contiguous(.activation(newBuffer(elements: input.elementCount)), shape: input.shape)
    var steps: [LoopStep] = [.load(operand: 0)]
    if match.subtractsMax {
      steps += [.reduce(.max, 0), .binary(.sub, 0, 1), .unary(.exp, 2), .reduce(.sum, 3), .binary(.div, 3, 4)]
    } else {
      steps += [.unary(.exp, 0), .reduce(.sum, 1), .binary(.div, 1, 2)]
    }
    let kernel = LoopKernel(shape: space, operandStrides: [order.map { input.strides[$0] }], operandTypes: [.f32],
                            outputCount: 1, steps: steps,
                            stores: [LoopStore(step: steps.count - 1, output: 0, strides: order.map { result.strides[$0] })],
                            vectorize: vectorize)
    append(loop: kernel, operands: [input], outputs: [result], template: "softmax", nodes: match.nodes)
    values[match.output] = .view(result)
    return true
  }
}
