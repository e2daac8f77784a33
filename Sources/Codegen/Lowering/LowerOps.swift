import Tracer

// Lowering of single primitives: views for shape ops, loop kernels for pointwise ops and
// reductions, and one kernel each for matmul, concat, conv2d, upsampling and gather.

extension LoweringContext {
  /// The view a reshape, permute, slice or expand makes of its operand.
  mutating func shapeOpValue(_ id: Int) throws(CodegenError) -> LoweredValue {
    let node = self.node(id)
    let operand = try value(node.operands[0])
    guard case .view(let source) = operand else { return operand }  // a uniform value stays uniform
    switch node.op {
    case .reshape(let target):
      if let view = source.reshaped(to: target) { return .view(view) }
      return .view(try materialize(source).reshaped(to: target)!)
    case .permute(let order):
      return .view(source.permuted(order))
    case .slice(let axis, let start, let end):
      return .view(source.sliced(axis: axis < 0 ? axis + source.shape.count : axis, start: start, end: end))
    case .expand(let target):
      return .view(source.expanded(to: target))
    default:
      throw CodegenError.unsupported("node \(id) (\(node.op.kind)) is not a view")
    }
  }

  /// One primitive as its own kernel.
  mutating func lowerSingle(_ id: Int) throws(CodegenError) {
    let node = self.node(id)
    switch node.op {
    case .unary, .binary:
      try lowerRegion(nodes: [id], output: id, template: "pointwise")
    case .reduce(let op, let axis):
      try lowerReduce(id, op: op, axis: axis)
    case .matmul:
      try lowerMatmul(id)
    case .concat(let axis):
      try lowerConcat(id, axis: axis)
    case .conv2d(let attributes):
      try lowerConv2d(id, attributes: attributes)
    case .upsampleNearest(let scale):
      // Read in place by the convolution after it (see `fusedUpsampleConvolution`).
      if fusedUpsampleConvolution(reading: id) != nil { return }
      let input = try denseOrCopy(try view(node.operands[0]))
      let dims = input.shape
      let kernel = UpsampleKernel(planes: dims.dropLast(2).reduce(1, *), height: dims[dims.count - 2],
                                  width: dims[dims.count - 1], scale: scale)
      let output = StridedView.contiguous(.activation(newBuffer(elements: node.shape.elementCount)), shape: node.shape.dims)
      append(LoweredKernel(
        template: "upsample", function: LoopEmitter.function(named: Self.placeholder, kernel),
        arguments: [argument(input, "const float *"), argument(output, "float *")], scratchFloats: nil,
        reads: Self.buffers([input]), writes: Self.buffers([output]), nodes: [id], flops: 0,
        bytes: Self.bytes([input, output]), group: nil))
      values[id] = .view(output)
    case .gather:
      let table = try denseOrCopy(try view(node.operands[0]))
      let indices = try view(node.operands[1])
      guard indices.isContiguous else {
        throw CodegenError.unsupported("node \(id): gather indices must be dense")
      }
      let kernel = GatherKernel(tableRows: table.shape[0], width: table.shape[1], indexCount: indices.elementCount)
      let output = StridedView.contiguous(.activation(newBuffer(elements: node.shape.elementCount)), shape: node.shape.dims)
      append(LoweredKernel(
        template: "gather", function: LoopEmitter.function(named: Self.placeholder, kernel),
        arguments: [argument(table, "const float *"), argument(indices, "const int32_t *"), argument(output, "float *")],
        scratchFloats: nil, reads: Self.buffers([table, indices]), writes: Self.buffers([output]), nodes: [id], flops: 0,
        bytes: Self.bytes([indices, output]) * 2, group: nil))
      values[id] = .view(output)
    case .reshape, .permute, .slice, .expand:
      values[id] = try shapeOpValue(id)
    case .input, .param, .constant:
      break
    }
  }

  /// A dense row-major view of the same values, copying only when the layout is not already dense.
  mutating func denseOrCopy(_ view: StridedView) throws(CodegenError) -> StridedView {
    view.isContiguous ? view : try materialize(view)
  }

  // MARK: Loop nests

  /// Pointwise ops and last-axis reductions of `nodes` as one loop nest writing `output`; falls
  /// back to one loop per node when the region does not fit one iteration space.
  mutating func lowerRegion(nodes: [Int], output: Int, template: String) throws(CodegenError) {
    let region = Set(nodes)
    guard let space = iterationSpace(of: nodes), let kernel = try regionKernel(nodes: nodes, region: region, output: output, space: space)
    else {
      guard nodes.count > 1 else {
        throw CodegenError.unsupported("node \(output) (\(node(output).op.kind)) does not fit a loop nest")
      }
      for id in nodes.sorted() where !Self.isView(node(id).op) { try lowerRegion(nodes: [id], output: id, template: "pointwise") }
      return
    }
    let (loop, operands, result) = kernel
    append(loop: loop, operands: operands, outputs: [result], template: template, nodes: nodes.sorted())
    values[output] = .view(result)
  }

  /// The shape every node of a region broadcasts to, when one exists and every reduction in the
  /// region runs over its innermost axis.
  func iterationSpace(of nodes: [Int]) -> [Int]? {
    var space = Shape([])
    for id in nodes {
      let shapes = [node(id).shape] + (isReduce(id) ? [node(node(id).operands[0]).shape] : [])
      for shape in shapes {
        guard let combined = try? ShapeInference.broadcast(space, shape) else { return nil }
        space = combined
      }
    }
    for id in nodes where isReduce(id) {
      guard case .reduce(_, let axis) = node(id).op else { continue }
      let input = node(node(id).operands[0]).shape
      guard input == space, input.normalizedAxis(axis) == input.rank - 1 else { return nil }
    }
    return space.dims
  }

  func isReduce(_ id: Int) -> Bool {
    if case .reduce = node(id).op { return true }
    return false
  }

  private mutating func regionKernel(nodes: [Int], region: Set<Int>, output: Int, space: [Int])
    throws(CodegenError) -> (LoopKernel, [StridedView], StridedView)?
  {
    var steps: [LoopStep] = []
    var stepOf: [Int: Int] = [:]
    var operands: [StridedView] = []
    var operandTypes: [DType] = []
    var operandIndex: [Int: Int] = [:]
    func add(_ step: LoopStep) -> Int {
      steps.append(step)
      return steps.count - 1
    }
    for id in nodes.sorted() {
      let node = self.node(id)
      var inputs: [Int] = []
      for operand in node.operands {
        if region.contains(operand), let step = stepOf[operand] {
          inputs.append(step)
          continue
        }
        switch try value(operand) {
        case .scalar(let scalar):
          inputs.append(add(.constant(scalar)))
        case .view(let view):
          let index: Int
          if let existing = operandIndex[operand] {
            index = existing
          } else {
            guard (try? ShapeInference.broadcast(Shape(view.shape), Shape(space))) == Shape(space) else { return nil }
            operands.append(view.expanded(to: space))
            operandTypes.append(self.node(operand).dtype)
            index = operands.count - 1
            operandIndex[operand] = index
          }
          inputs.append(add(.load(operand: index)))
        }
      }
      switch node.op {
      case .unary(let op): stepOf[id] = add(.unary(op, inputs[0]))
      case .binary(let op): stepOf[id] = add(.binary(op, inputs[0], inputs[1]))
      case .reduce(let op, _): stepOf[id] = add(.reduce(op, inputs[0]))
      default: return nil
      }
    }
    let outputShape = node(output).shape.dims
    let perRow = outputShape.count == space.count && outputShape.last == 1 && (space.last ?? 1) > 1
      && Array(outputShape.dropLast()) == Array(space.dropLast())
    guard outputShape == space || perRow, let outputStep = stepOf[output] else { return nil }
    let result = StridedView.contiguous(.activation(newBuffer(elements: outputShape.reduce(1, *))), shape: outputShape)
    let kernel = LoopKernel(shape: space, operandStrides: operands.map(\.strides), operandTypes: operandTypes,
                            outputCount: 1, steps: steps,
                            stores: [LoopStore(step: outputStep, output: 0, strides: result.strides)],
                            vectorize: vectorize)
    return (kernel, operands, result)
  }

  /// A reduction over any axis: the iteration space puts that axis innermost.
  mutating func lowerReduce(_ id: Int, op: ReduceOp, axis: Int) throws(CodegenError) {
    let node = self.node(id)
    let input = try view(node.operands[0])
    let rank = input.shape.count
    let reduced = axis < 0 ? axis + rank : axis
    let order = (0..<rank).filter { $0 != reduced } + [reduced]
    let result = StridedView.contiguous(.activation(newBuffer(elements: node.shape.elementCount)), shape: node.shape.dims)
    let kernel = LoopKernel(
      shape: order.map { input.shape[$0] }, operandStrides: [order.map { input.strides[$0] }], operandTypes: [.f32],
      outputCount: 1, steps: [.load(operand: 0), .reduce(op, 0)],
      stores: [LoopStore(step: 1, output: 0, strides: order.map { result.strides[$0] })], vectorize: vectorize)
    append(loop: kernel, operands: [input], outputs: [result], template: "reduce", nodes: [id])
    values[id] = .view(result)
  }

  /// A matmul: the profile's packed GEMM when B is a weight, a strided loop otherwise.
  mutating func lowerMatmul(_ id: Int) throws(CodegenError) {
    let node = self.node(id)
    if mode == .compiled, let weight = weightSource(of: node.operands[1]),
       try lowerGemm(output: id, matmul: id, a: node.operands[0], weight: weight, epilogue: [], nodes: [id]) {
      return
    }
    let a = try view(node.operands[0])
    let b = try view(node.operands[1])
    let dims = node.shape.dims
    let batch = Array(dims.dropLast(2))
    let (m, n, k) = (dims[dims.count - 2], dims[dims.count - 1], a.shape[a.shape.count - 1])
    let aFull = a.expanded(to: batch + [m, k])
    let bFull = b.expanded(to: batch + [k, n])
    let kernel = MatmulLoopKernel(batchShape: batch, m: m, n: n, k: k, aStrides: aFull.strides, bStrides: bFull.strides,
                                  vectorize: vectorize)
    let output = StridedView.contiguous(.activation(newBuffer(elements: node.shape.elementCount)), shape: dims)
    append(LoweredKernel(
      template: "matmul", function: LoopEmitter.function(named: Self.placeholder, kernel),
      arguments: [argument(aFull, "const float *"), argument(bFull, "const float *"), argument(output, "float *")],
      scratchFloats: nil, reads: Self.buffers([a, b]), writes: Self.buffers([output]), nodes: [id],
      flops: flops(of: [id]), bytes: Self.bytes([a, b, output]), group: nil))
    values[id] = .view(output)
  }

  /// The weight behind a matmul's right operand: a 2-D parameter or constant table, read directly
  /// ([K, N]) or through a transpose ([N, K], as PyTorch stores a Linear weight).
  func weightSource(of id: Int) -> (leaf: Int, transposed: Bool)? {
    func isWeightLeaf(_ id: Int) -> Bool {
      if case .param = node(id).op { return node(id).shape.rank == 2 }
      return foldedValues[id] != nil && node(id).shape.rank == 2
    }
    if isWeightLeaf(id) { return (id, false) }
    if case .permute(let order) = node(id).op, order == [1, 0], isWeightLeaf(node(id).operands[0]) {
      return (node(id).operands[0], true)
    }
    return nil
  }

  /// Each operand copied into its slice of one dense output; the copies form one group.
  mutating func lowerConcat(_ id: Int, axis: Int) throws(CodegenError) {
    let node = self.node(id)
    let resolved = axis < 0 ? axis + node.shape.rank : axis
    let output = StridedView.contiguous(.activation(newBuffer(elements: node.shape.elementCount)), shape: node.shape.dims)
    let group = nextGroup
    nextGroup += 1
    var start = 0
    for operand in node.operands {
      let source = try view(operand)
      let length = self.node(operand).shape[resolved]
      let slice = output.sliced(axis: resolved, start: start, end: start + length)
      let kernel = LoopKernel(shape: slice.shape, operandStrides: [source.strides], operandTypes: [self.node(operand).dtype],
                              outputCount: 1, steps: [.load(operand: 0)],
                              stores: [LoopStore(step: 0, output: 0, strides: slice.strides)], vectorize: vectorize)
      append(loop: kernel, operands: [source], outputs: [slice], template: "concat", nodes: [id], flops: 0, group: group)
      start += length
    }
    values[id] = .view(output)
  }

  func isWeight(_ id: Int) -> Bool {
    if case .param = node(id).op { return true }
    return foldedValues[id] != nil
  }

  /// The only node reading `id`, when there is exactly one and `id` is not a graph output.
  func soleUser(of id: Int) -> Int? {
    let readers = Set(users[id])
    guard readers.count == 1, !graph.outputs.contains(where: { $0.node == id }) else { return nil }
    return readers.first
  }

  /// A per-channel vector shaped [C, 1, 1] or [1, C, 1, 1] (as a bias is added to NCHW) as a
  /// dense [C] view, or nil.
  mutating func channelVector(_ id: Int, channels: Int) throws(CodegenError) -> StridedView? {
    let dims = node(id).shape.dims
    guard dims.count >= 3, dims.suffix(3).elementsEqual([channels, 1, 1]), dims.dropLast(3).allSatisfy({ $0 == 1 }),
          case .view(let source) = try value(id), let vector = source.reshaped(to: [channels]),
          channels == 1 || vector.strides[0] == 1
    else { return nil }
    return vector
  }
}
