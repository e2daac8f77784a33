import Tracer

/// Graph → Program: the step that replaces the traced primitives by kernels.
///
/// In `.compiled` mode the patterns `PatternSet` finds become instances of the profile's
/// templates (packed GEMM with its epilogue, fused attention, row normalization + modulation)
/// or fused loop nests (softmax, pointwise regions); in `.naive` mode every primitive is its own
/// textbook loop. In both, shape ops become strided views wherever the memory allows, subgraphs
/// of constants are evaluated once at compile time, activations get static offsets in one arena
/// reused by liveness, and the schedule puts a barrier only where a kernel touches memory an
/// earlier kernel since the last barrier wrote (or reads memory it is about to overwrite).
public enum Lowering {
  public static func lower(graph: Graph, profile: HardwareProfile, mode: LoweringMode, name: String = "model")
    throws(CodegenError) -> Program
  {
    let optimized: Graph
    do { optimized = try graph.optimized() } catch { throw CodegenError.invalidGraph(error.description) }
    var context = try LoweringContext(graph: optimized, profile: profile, mode: mode)
    try context.lowerAll()
    return try ModuleEmitter.emit(context.finish(), name: name)
  }
}

/// A value during lowering: data seen through a view, or a compile-time scalar.
enum LoweredValue {
  case view(StridedView)
  case scalar(Double)
}

/// A pointer a kernel receives: into an activation buffer or a weight slot, at an element offset.
struct KernelArgument: Hashable {
  enum Base: Hashable {
    case activation(Int)
    case weight(Int)
  }
  var base: Base
  var elementOffset: Int
  /// The C parameter type (`const float *`, `float *`, `const int32_t *`).
  var cType: String
}

/// One kernel call of the schedule, before the arena is laid out.
struct LoweredKernel {
  var template: String
  /// The C function with `KILN_FUNCTION_NAME` in place of its name; identical texts share one function.
  var function: String
  var arguments: [KernelArgument]
  /// C expression for the scratch floats one thread needs, nil when the kernel takes none.
  var scratchFloats: String?
  var reads: [Int]
  var writes: [Int]
  var nodes: [Int]
  var flops: Int
  var bytes: Int
  /// Kernels of one group write disjoint parts of one buffer and need no barrier between them.
  var group: Int?
}

/// Everything lowering produced, ready to be laid out and rendered.
struct LoweredProgram {
  var graph: Graph
  var profile: HardwareProfile
  var mode: LoweringMode
  var kernels: [LoweredKernel]
  var bufferSizes: [Int]
  var weights: [WeightSlot]
  var inputs: [(name: String, buffer: Int, shape: [Int], dtype: DType)]
  var outputs: [(name: String, buffer: Int, shape: [Int], dtype: DType)]
  var patterns: [String: Int]
}

struct LoweringContext {
  static let placeholder = "KILN_FUNCTION_NAME"

  let graph: Graph
  let profile: HardwareProfile
  let mode: LoweringMode
  let patterns: PatternSet?
  /// What matchers know of the graph, for the epilogues lowering fuses itself (compiled mode).
  let facts: GraphFacts?
  let users: [[Int]]
  var values: [Int: LoweredValue] = [:]
  var bufferSizes: [Int] = []
  var weights: [WeightSlot] = []
  var weightSlotOf: [String: Int] = [:]
  var kernels: [LoweredKernel] = []
  var inputs: [(name: String, buffer: Int, shape: [Int], dtype: DType)] = []
  var loweredPatterns: [String: Int] = [:]
  var nextGroup = 0
  /// Nodes a neighbouring kernel computed (a bias add fused into a convolution's epilogue).
  var absorbed: Set<Int> = []
  /// Folded constants: node → value computed at compile time.
  var foldedValues: [Int: HostTensor] = [:]
  let folded: Set<Int>

  init(graph: Graph, profile: HardwareProfile, mode: LoweringMode) throws(CodegenError) {
    self.graph = graph
    self.profile = profile
    self.mode = mode
    self.patterns = mode == .compiled ? PatternSet(discoveringIn: graph) : nil
    self.facts = mode == .compiled ? GraphFacts(graph) : nil
    self.users = graph.users()
    self.folded = graph.constantFoldableNodes()
    try foldConstants()
  }

  var vectorize: Bool { mode == .compiled }

  // MARK: Constants

  /// Evaluates, once, every constant-only value that a computed node reads.
  private mutating func foldConstants() throws(CodegenError) {
    let boundary = folded.filter { id in users[id].contains { !folded.contains($0) } }.sorted()
    guard !boundary.isEmpty else { return }
    var subgraph = Graph(nodes: graph.nodes, outputs: boundary.map { GraphOutput(name: "c\($0)", node: $0) })
    subgraph = subgraph.eliminatingDeadCode()
    do {
      let results = try ReferenceInterpreter.evaluate(subgraph, inputs: [:], params: [:])
      for id in boundary { foldedValues[id] = results["c\(id)"] }
    } catch {
      throw CodegenError.invalidGraph("evaluating constant tables: \(error.description)")
    }
  }

  // MARK: Values

  func node(_ id: Int) -> Node { graph.nodes[id] }

  /// The value of a node a kernel reads.
  mutating func value(_ id: Int) throws(CodegenError) -> LoweredValue {
    if let value = values[id] { return value }
    if case .param = node(id).op {
      // Plain slots are made on demand: a weight only a GEMM reads exists only in its packed form.
      let slot = try weightSlot(param: id, packing: .plain)
      values[id] = .view(.contiguous(.weight(slot), shape: node(id).shape.dims))
      return values[id]!
    }
    if Self.isView(node(id).op), !folded.contains(id) {
      // Views are made on demand too, so a transposed weight read only by a GEMM stays packed.
      let value = try shapeOpValue(id)
      values[id] = value
      return value
    }
    if let constant = foldedValues[id] {
      let value: LoweredValue
      if let uniform = Self.uniformValue(constant.values) {
        value = .scalar(uniform)
      } else {
        let slot = addWeight(WeightSlot(name: "constant.\(id)", shape: constant.shape.dims, packing: .plain,
                                        bakedValues: constant.values.map(Float.init)))
        value = .view(.contiguous(.weight(slot), shape: constant.shape.dims))
      }
      values[id] = value
      return value
    }
    throw CodegenError.unsupported("node \(id) (\(node(id).op.kind)) is read before it is computed")
  }

  /// The value as a view; a scalar becomes a baked one-element weight broadcast to the node's shape.
  mutating func view(_ id: Int) throws(CodegenError) -> StridedView {
    switch try value(id) {
    case .view(let view): return view
    case .scalar(let scalar):
      let slot = addWeight(WeightSlot(name: "constant.\(id)", shape: [1], packing: .plain, bakedValues: [Float(scalar)]))
      return StridedView(storage: .weight(slot), shape: node(id).shape.dims, strides: node(id).shape.dims.map { _ in 0 })
    }
  }

  /// Shape ops that become views of their operand (concat is a kernel).
  static func isView(_ op: Op) -> Bool {
    switch op {
    case .reshape, .permute, .slice, .expand: return true
    default: return false
    }
  }

  static func uniformValue(_ values: [Double]) -> Double? {
    guard let first = values.first, values.allSatisfy({ $0 == first }) else { return nil }
    return first
  }

  mutating func newBuffer(elements: Int, dtype: DType = .f32) -> Int {
    bufferSizes.append(max(elements, 1) * dtype.byteSize)
    return bufferSizes.count - 1
  }

  mutating func addWeight(_ slot: WeightSlot) -> Int {
    let key = slot.name + "|" + "\(slot.packing)"
    if let existing = weightSlotOf[key] { return existing }
    weights.append(slot)
    weightSlotOf[key] = weights.count - 1
    return weights.count - 1
  }

  /// The weight slot of a parameter in a given packing (one parameter may need several).
  mutating func weightSlot(param id: Int, packing: WeightPacking) throws(CodegenError) -> Int {
    switch node(id).op {
    case .param(let name):
      return addWeight(WeightSlot(name: name, shape: node(id).shape.dims, packing: packing))
    default:
      guard let constant = foldedValues[id] else {
        throw CodegenError.unsupported("node \(id) is used as a packed weight but is neither a parameter nor a constant")
      }
      return addWeight(WeightSlot(name: "constant.\(id)", shape: constant.shape.dims, packing: packing,
                                  bakedValues: constant.values.map(Float.init)))
    }
  }

  /// A contiguous copy of `view` in a new buffer (a framework's `.contiguous()`).
  mutating func materialize(_ view: StridedView, nodes: [Int] = []) throws(CodegenError) -> StridedView {
    let buffer = newBuffer(elements: view.elementCount)
    let output = StridedView.contiguous(.activation(buffer), shape: view.shape)
    let kernel = LoopKernel(shape: view.shape, operandStrides: [view.strides], operandTypes: [.f32], outputCount: 1,
                            steps: [.load(operand: 0)], stores: [LoopStore(step: 0, output: 0, strides: output.strides)],
                            vectorize: vectorize)
    append(loop: kernel, operands: [view], outputs: [output], template: "copy", nodes: nodes, flops: 0)
    return output
  }

  /// `view` as rows: [rows, width] with unit stride inside a row and a uniform row stride, or nil.
  static func rows(_ view: StridedView, width: Int) -> (view: StridedView, rowStride: Int)? {
    let rows = view.elementCount / max(width, 1)
    guard let reshaped = view.reshaped(to: [rows, width]) else { return nil }
    guard width == 1 || reshaped.strides[1] == 1 else { return nil }
    return (reshaped, rows == 1 ? width : reshaped.strides[0])
  }

  /// `view` as rows, materializing a copy when its layout does not allow it.
  mutating func rowsOrCopy(_ view: StridedView, width: Int) throws(CodegenError) -> (view: StridedView, rowStride: Int) {
    if let rows = Self.rows(view, width: width) { return rows }
    return Self.rows(try materialize(view), width: width)!
  }

  // MARK: Kernels

  func argument(_ view: StridedView, _ cType: String) -> KernelArgument {
    switch view.storage {
    case .activation(let buffer): return KernelArgument(base: .activation(buffer), elementOffset: view.offset, cType: cType)
    case .weight(let slot): return KernelArgument(base: .weight(slot), elementOffset: view.offset, cType: cType)
    }
  }

  static func buffers(_ views: [StridedView]) -> [Int] {
    views.compactMap { if case .activation(let buffer) = $0.storage { return buffer } else { return nil } }
  }

  /// FLOPs of the graph nodes a kernel computes, counted as `GraphStatistics` counts them.
  func flops(of nodes: [Int]) -> Int {
    nodes.reduce(0) { total, id in
      total + 2 * GraphStatistics.multiplyAccumulates(node(id), in: graph) + GraphStatistics.otherFLOPs(node(id), in: graph)
    }
  }

  /// Bytes a kernel must move at least once: every distinct element it reads and writes.
  static func bytes(_ views: [StridedView]) -> Int {
    views.reduce(0) { total, view in
      total + 4 * zip(view.shape, view.strides).reduce(1) { $0 * ($1.1 == 0 ? 1 : $1.0) }
    }
  }

  mutating func append(loop kernel: LoopKernel, operands: [StridedView], outputs: [StridedView], template: String,
                       nodes: [Int], flops: Int? = nil, group: Int? = nil) {
    let arguments = operands.enumerated().map { index, view in
      argument(view, kernel.operandTypes[index] == .i32 ? "const int32_t *" : "const float *")
    } + outputs.map { argument($0, "float *") }
    kernels.append(LoweredKernel(
      template: template, function: LoopEmitter.function(named: Self.placeholder, kernel), arguments: arguments,
      scratchFloats: nil, reads: Self.buffers(operands), writes: Self.buffers(outputs), nodes: nodes,
      flops: flops ?? self.flops(of: nodes), bytes: Self.bytes(operands + outputs), group: group))
  }

  mutating func append(_ kernel: LoweredKernel) { kernels.append(kernel) }

  // MARK: Driver

  mutating func lowerAll() throws(CodegenError) {
    for (id, node) in graph.nodes.enumerated() where !folded.contains(id) && !absorbed.contains(id) {
      switch node.op {
      case .input(let name):
        let buffer = newBuffer(elements: node.shape.elementCount, dtype: node.dtype)
        inputs.append((name, buffer, node.shape.dims, node.dtype))
        values[id] = .view(.contiguous(.activation(buffer), shape: node.shape.dims))
        continue
      case .param, .constant, .reshape, .permute, .slice, .expand:
        continue  // made on demand by `value(_:)`
      default:
        break
      }
      if let patterns, let index = patterns.matchOfNode[id] {
        let match = patterns.matches[index]
        if match.output == id { try lower(match) }
        continue
      }
      try lowerSingle(id)
    }
  }

  /// Lays the outputs out as dense buffers of their own (copying views and shared buffers).
  mutating func finish() throws(CodegenError) -> LoweredProgram {
    var outputs: [(name: String, buffer: Int, shape: [Int], dtype: DType)] = []
    var claimed = Set(inputs.map(\.buffer))
    for output in graph.outputs {
      let node = self.node(output.node)
      var view = try view(output.node)
      let dense: Bool
      if case .activation(let buffer) = view.storage {
        dense = view.offset == 0 && view.isContiguous && bufferSizes[buffer] == node.shape.elementCount * node.dtype.byteSize
          && !claimed.contains(buffer)
      } else {
        dense = false
      }
      if !dense { view = try materialize(view, nodes: []) }
      guard case .activation(let buffer) = view.storage else { continue }
      claimed.insert(buffer)
      outputs.append((output.name, buffer, node.shape.dims, node.dtype))
    }
    return LoweredProgram(graph: graph, profile: profile, mode: mode, kernels: kernels, bufferSizes: bufferSizes,
                          weights: weights, inputs: inputs, outputs: outputs, patterns: loweredPatterns)
  }
}
