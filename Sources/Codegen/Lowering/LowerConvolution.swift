import Tracer

// Convolutions: the implicit-GEMM template (common/conv2d.h) with the pointwise ops that read
// its result fused into its epilogue, in compiled mode for one group; a direct loop otherwise.

/// What a convolution's epilogue computes of the ops after it, in the order the template applies
/// them: `+ bias` per output channel, an activation, `+ residual` of the result's shape.
struct ConvolutionEpilogue {
  var bias: StridedView?
  var activation: Activation?
  var residual: StridedView?
  /// The graph nodes the epilogue computes, and the last of them (the convolution itself when none).
  var nodes: [Int] = []
  var output: Int

  /// The KILN_EPILOGUE initializer; `spatial` = OH·OW, the row stride of the residual.
  func cText(spatial: Int) -> String {
    var fields: [String] = []
    if bias != nil { fields.append(".bias_row = bias") }
    if let activation { fields.append(".activation = \(LoweringContext.activationConstant(activation))") }
    if residual != nil { fields.append(".residual = residual, .residual_ld = \(spatial)") }
    return fields.isEmpty ? "KILN_NO_EPILOGUE" : "KILN_EPILOGUE(\(fields.joined(separator: ", ")))"
  }
}

extension LoweringContext {
  mutating func lowerConv2d(_ id: Int, attributes: Conv2DAttributes) throws(CodegenError) {
    let node = self.node(id)
    if fusedUpsampleConvolution(reading: node.operands[0]) == id {
      try lowerUpsampledConv2d(id)
      return
    }
    let input = try denseOrCopy(try view(node.operands[0]))
    let w = self.node(node.operands[1]).shape.dims
    let x = input.shape
    let square = attributes.stride[0] == attributes.stride[1] && attributes.padding[0] == attributes.padding[1]
    guard mode == .compiled, attributes.groups == 1, square, isWeight(node.operands[1]) else {
      try lowerConv2dLoop(id, input: input, attributes: attributes)
      return
    }
    let blocking = Self.convolutionBlocking(profile: profile, outChannels: w[0])
    try appendConvolution(
      id, input: input,
      packing: .conv2d(outChannels: w[0], inChannels: w[1], kernelHeight: w[2], kernelWidth: w[3]),
      epilogue: try convolutionEpilogue(after: id, channels: w[0], allowsResidual: true),
      scratchFloats: "KILN_CONV_SCRATCH_FLOATS(\(blocking.nc), \(blocking.kc))", flops: nil
    ) { epilogue in
      """
      kiln_conv2d(x, w, y, \(x[0]), \(x[1]), \(x[2]), \(x[3]), \(w[0]), \(w[2]), \(w[3]), \(attributes.stride[0]), \
      \(attributes.padding[0]),
                    KILN_BLOCKING(\(blocking.mc), \(blocking.kc), \(blocking.nc)), \(epilogue), scratch, thread_id, n_threads);
      """
    }
  }

  /// The convolution reading nearest 2× upsampling `upsample`, when it is its only reader and can
  /// compute it in place: 3×3, stride 1, padding 1, one group, weights known at load (compiled mode).
  func fusedUpsampleConvolution(reading upsample: Int) -> Int? {
    guard mode == .compiled, case .upsampleNearest(2) = node(upsample).op, node(upsample).shape.rank == 4,
          let conv = soleUser(of: upsample), case .conv2d(let attributes) = node(conv).op,
          node(conv).operands[0] == upsample, attributes.groups == 1, attributes.stride == [1, 1],
          attributes.padding == [1, 1], isWeight(node(conv).operands[1]),
          node(node(conv).operands[1]).shape.dims.suffix(2) == [3, 3]
    else { return nil }
    return conv
  }

  /// `conv2d(upsampleNearest(x, 2), w, padding: 1)` as four 2×2 convolutions of x
  /// (`kiln_conv2d_upsample2x`): 4/9 of the multiply-adds, and no upsampled tensor. The kernel's
  /// FLOPs are the ones it executes; the model's stay the graph's.
  private mutating func lowerUpsampledConv2d(_ id: Int) throws(CodegenError) {
    let node = self.node(id)
    let input = try denseOrCopy(try view(self.node(node.operands[0]).operands[0]))
    let w = self.node(node.operands[1]).shape.dims
    let x = input.shape
    let blocking = Self.convolutionBlocking(profile: profile, outChannels: w[0])
    let epilogue = try convolutionEpilogue(after: id, channels: w[0], allowsResidual: false)
    let executed = 2 * node.shape.elementCount * w[1] * 4
    try appendConvolution(
      id, input: input, packing: .conv2dUpsample2x(outChannels: w[0], inChannels: w[1]), epilogue: epilogue,
      scratchFloats: "KILN_CONV_UPSAMPLE2X_SCRATCH_FLOATS(\(w[0]), \(blocking.nc), \(blocking.kc))",
      flops: executed + flops(of: epilogue.nodes)
    ) { epilogue in
      """
      kiln_conv2d_upsample2x(x, w, y, \(x[0]), \(x[1]), \(x[2]), \(x[3]), \(w[0]),
                               KILN_BLOCKING(\(blocking.mc), \(blocking.kc), \(blocking.nc)), \(epilogue), scratch, thread_id, n_threads);
      """
    }
  }

  /// Appends the kernel of convolution `id` reading `input`, whose template call `call` makes from
  /// the epilogue's initializer; `flops` nil counts the graph's.
  private mutating func appendConvolution(_ id: Int, input: StridedView, packing: WeightPacking,
                                          epilogue: ConvolutionEpilogue, scratchFloats: String, flops: Int?,
                                          call: (String) -> String) throws(CodegenError) {
    let node = self.node(id)
    let w = self.node(node.operands[1]).shape.dims
    let slot = try weightSlot(param: node.operands[1], packing: packing)
    absorbed.formUnion(epilogue.nodes)
    let output = StridedView.contiguous(.activation(newBuffer(elements: node.shape.elementCount)), shape: node.shape.dims)
    let spatial = node.shape.dims[2] * node.shape.dims[3]
    let function = """
      static void \(Self.placeholder)(const float *x, const float *w, \(epilogue.bias == nil ? "" : "const float *bias, ")\
      \(epilogue.residual == nil ? "" : "const float *residual, ")float *y, float *scratch, int thread_id, int n_threads) {
        \(call(epilogue.cText(spatial: spatial)))
      }

      """
    let weightView = StridedView.contiguous(.weight(slot), shape: w)
    let extra = [epilogue.bias, epilogue.residual].compactMap { $0 }
    let arguments = [argument(input, "const float *"), argument(weightView, "const float *")]
      + extra.map { argument($0, "const float *") } + [argument(output, "float *")]
    let covered = [id] + epilogue.nodes
    append(LoweredKernel(
      template: "conv2d", function: function, arguments: arguments, scratchFloats: scratchFloats,
      reads: Self.buffers([input] + extra), writes: Self.buffers([output]), nodes: covered,
      flops: flops ?? self.flops(of: covered), bytes: Self.bytes([input, output] + extra) + 4 * w.reduce(1, *),
      group: nil))
    values[epilogue.output] = .view(output)
  }

  /// A textbook loop: grouped and non-square convolutions, activation weights, and naive mode.
  private mutating func lowerConv2dLoop(_ id: Int, input: StridedView, attributes: Conv2DAttributes)
    throws(CodegenError) {
    let node = self.node(id)
    let x = input.shape
    let w = self.node(node.operands[1]).shape.dims
    let weight = try denseOrCopy(try view(node.operands[1]))
    let kernel = Conv2DLoopKernel(batch: x[0], inChannels: x[1], height: x[2], width: x[3], outChannels: w[0],
                                  kernelHeight: w[2], kernelWidth: w[3], stride: attributes.stride,
                                  padding: attributes.padding, groups: attributes.groups)
    let output = StridedView.contiguous(.activation(newBuffer(elements: node.shape.elementCount)), shape: node.shape.dims)
    append(LoweredKernel(
      template: "conv2d_loop", function: LoopEmitter.function(named: Self.placeholder, kernel),
      arguments: [argument(input, "const float *"), argument(weight, "const float *"), argument(output, "float *")],
      scratchFloats: nil, reads: Self.buffers([input, weight]), writes: Self.buffers([output]), nodes: [id],
      flops: flops(of: [id]), bytes: Self.bytes([input, weight, output]), group: nil))
    values[id] = .view(output)
  }

  /// The ops after convolution `conv` its epilogue can apply: a per-channel bias add, then an
  /// activation, then the add of a residual already computed (a later one — a shortcut traced after
  /// the convolution — is left to its own kernel, which may take this result as its residual).
  /// Each op must be the only reader of the value before it, and a pointwise region the ops
  /// belong to must be taken whole (its other nodes would otherwise lose their kernel).
  mutating func convolutionEpilogue(after conv: Int, channels: Int, allowsResidual: Bool) throws(CodegenError)
    -> ConvolutionEpilogue {
    var steps: [ConvolutionEpilogue] = []
    var current = ConvolutionEpilogue(output: conv)
    func extend(_ step: inout ConvolutionEpilogue, nodes: [Int], output: Int) {
      step.nodes += nodes
      step.output = output
    }
    while let facts, !facts.outputNodes.contains(current.output) {
      var next = current
      if current.activation == nil, current.residual == nil,
         let activation = ActivationMatcher.activation(of: current.output, facts) {
        next.activation = activation.kind
        extend(&next, nodes: activation.nodes.sorted(), output: activation.output)
      } else if let add = soleUser(of: current.output), case .binary(.add) = node(add).op,
                node(add).shape == node(current.output).shape,
                let other = node(add).operands.first(where: { $0 != current.output }) {
        if current.bias == nil, current.activation == nil, current.residual == nil,
           let bias = try channelVector(other, channels: channels) {
          next.bias = bias
        } else if allowsResidual, current.residual == nil, node(other).shape == node(add).shape,
                  case .view(let residual)? = values[other], residual.isContiguous,
                  case .activation = residual.storage {
          next.residual = residual
        } else {
          break
        }
        extend(&next, nodes: [add], output: add)
      } else {
        break
      }
      steps.append(next)
      current = next
    }
    // The longest chain of steps that takes every pattern region it touches whole.
    for step in steps.reversed() where coversWholeRegions(step.nodes) { return step }
    return ConvolutionEpilogue(output: conv)
  }

  /// The activation that alone reads `value` (its nodes, increasing, and its output), when its
  /// pointwise region can be taken whole by the kernel computing `value`.
  func followingActivation(of value: Int) -> (kind: Activation, nodes: [Int], output: Int)? {
    guard let facts, !facts.outputNodes.contains(value),
          let activation = ActivationMatcher.activation(of: value, facts) else { return nil }
    let nodes = activation.nodes.sorted()
    return coversWholeRegions(nodes) ? (activation.kind, nodes, activation.output) : nil
  }

  /// True when every node of `nodes` that a pattern match covers belongs to a pointwise match
  /// whose nodes are all in `nodes`.
  func coversWholeRegions(_ nodes: [Int]) -> Bool {
    let set = Set(nodes)
    for id in nodes {
      guard let patterns, let index = patterns.matchOfNode[id] else { continue }
      guard case .pointwise(let region) = patterns.matches[index], region.nodes.allSatisfy(set.contains) else {
        return false
      }
    }
    return true
  }

  /// The convolution's cache blocking. KC is the profile's: the weights are packed with it at
  /// load. The template keeps the OC×NC block of the output in L2 while it adds the KC blocks
  /// into it, beside the OC×KC block of packed weights and the KC×NC block of packed im2col; NC
  /// takes what is left of three quarters of L2, in whole NR-wide panels (at least one).
  static func convolutionBlocking(profile: HardwareProfile, outChannels: Int) -> HardwareProfile.Blocking {
    let (mr, nr) = (profile.microKernel.mr, profile.microKernel.nr)
    let kc = profile.blocking.kc
    let rows = (outChannels + mr - 1) / mr * mr
    let budget = profile.caches.l2 * 3 / 4 / BlockingModel.bytesPerElement - rows * kc
    let nc = max(nr, budget / (rows + kc) / nr * nr)
    return HardwareProfile.Blocking(kc: kc, mc: rows, nc: nc)
  }
}
