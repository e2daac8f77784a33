import Tracer

/// Kiln's framework-like baseline: runs the graph one primitive at a time, as PyTorch's eager mode
/// does. Every intermediate is a new contiguous f32 array (freed after its last use), matmuls and
/// convolutions (im2col) go through OpenBLAS's `cblas_sgemm` with the team's thread count,
/// attention is materialized because it is just the graph's ops, permutes are contiguous copies
/// (except a transpose only matmuls read, which BLAS takes as a flag, as a framework passes
/// `weight.T` to `addmm` without copying it), and nothing is fused: that is
/// what the compiled executor is measured against. Tables that depend on constants only
/// (position embeddings, frequency ramps) are computed once at load, as a framework holds buffers.
public final class EagerBLASExecutor: Executor {
  public let name = "eager-blas"
  public let graph: Graph
  public let threads: Int
  /// The OpenBLAS in use: its core type and who chose it (`blas.summary` says it in one line).
  public let blas: OpenBLASLibrary

  private let kernels: EagerKernels
  private let gemm: EagerGEMM
  /// Values every run starts from: the weights and the constant tables, by node id.
  private let resident: [RuntimeTensor.Storage?]
  /// The nodes a run computes, in order: those the outputs need, minus the constant tables.
  private let schedule: [Int]
  /// For each node, the last scheduled node that reads it (`Int.max` for outputs).
  private let lastUse: [Int?]
  /// Permutes that swap the two last axes and are read only by matmuls: like a framework's
  /// transposed view, never copied; the matmul passes BLAS a transpose flag instead.
  private let transposedViews: Set<Int>

  /// Checks the graph and that every param is supplied in `weights` with the declared shape and
  /// dtype, then loads OpenBLAS (once per process) and computes the constant tables.
  public init(graph: Graph, weights: [String: RuntimeTensor], threads: Int) throws {
    guard threads >= 1 else { throw RuntimeError.invalidFeed("eager-blas: threads must be at least 1, got \(threads)") }
    do { try graph.verify() } catch { throw RuntimeError.unsupported("eager-blas: the graph is invalid: \(error)") }
    try Self.requireSupportedDTypes(graph)
    self.graph = graph
    self.threads = threads
    blas = try OpenBLASLibrary.shared()
    kernels = EagerKernels(parallelism: EagerParallelism(threads: threads))
    gemm = EagerGEMM(blas: blas, kernels: kernels)

    let lastUse = Self.lastUses(in: graph)
    self.lastUse = lastUse
    let transposedViews = Self.transposedViews(in: graph)
    self.transposedViews = transposedViews
    let folded = graph.constantFoldableNodes()
    var resident = [RuntimeTensor.Storage?](repeating: nil, count: graph.nodes.count)
    for (name, id) in graph.params {
      resident[id] = try Self.feed(weights[name], named: name, for: graph[id], kind: "weight").storage
    }
    let needed = graph.nodes.indices.filter { lastUse[$0] != nil }
    schedule = needed.filter { !folded.contains($0) && !graph[$0].op.isLeaf }
    // Constant tables: computed in order, kept where a run reads them.
    var tables = resident
    for id in needed where folded.contains(id) {
      tables[id] = try Self.evaluate(id, graph: graph, values: tables, views: transposedViews, kernels: kernels, gemm: gemm)
    }
    for id in needed where folded.contains(id) { resident[id] = tables[id] }
    self.resident = resident
  }

  /// One forward pass. `inputs` must hold every graph input, by name, with its declared shape and dtype.
  public func run(_ inputs: [String: RuntimeTensor]) throws -> [String: RuntimeTensor] {
    let declared = Set(graph.inputs.map(\.name))
    if let unknown = inputs.keys.sorted().first(where: { !declared.contains($0) }) {
      throw RuntimeError.invalidFeed("input '\(unknown)' is not an input of this graph (its inputs: \(declared.sorted().joined(separator: ", ")))")
    }
    var values = resident
    for (name, id) in graph.inputs {
      values[id] = try Self.feed(inputs[name], named: name, for: graph[id], kind: "input").storage
    }
    blas.setThreads(threads)
    for id in schedule {
      values[id] = try Self.evaluate(id, graph: graph, values: values, views: transposedViews, kernels: kernels, gemm: gemm)
      for operand in graph[id].operands where lastUse[operand] == id { values[operand] = nil }
    }
    var outputs: [String: RuntimeTensor] = [:]
    for output in graph.outputs {
      guard let storage = values[output.node] else {
        throw RuntimeError.unsupported("eager-blas: output '\(output.name)' (node \(output.node)) has no value")
      }
      outputs[output.name] = try RuntimeTensor(shape: graph[output.node].shape, storage: storage)
    }
    return outputs
  }

  // MARK: - Checking feeds

  private static func requireSupportedDTypes(_ graph: Graph) throws(RuntimeError) {
    for (id, node) in graph.nodes.enumerated() where node.dtype != .f32 && node.dtype != .i32 {
      throw RuntimeError.unsupported(
        "eager-blas computes in f32; node \(id) (\(node.op.kind) in '\(node.scope)') is \(node.dtype.rawValue)")
    }
  }

  private static func feed(_ tensor: RuntimeTensor?, named name: String, for node: Node,
                           kind: String) throws(RuntimeError) -> RuntimeTensor {
    let declared = "\(node.dtype.rawValue) \(node.shape)"
    guard let tensor else {
      let message = "tensor '\(name)' is missing; the graph needs \(declared)"
      throw kind == "weight" ? RuntimeError.invalidWeights(message) : RuntimeError.invalidFeed("input: " + message)
    }
    guard tensor.shape == node.shape, tensor.dtype == node.dtype else {
      let message = "tensor '\(name)' is \(tensor.dtype.rawValue) \(tensor.shape); the graph needs \(declared)"
      throw kind == "weight" ? RuntimeError.invalidWeights(message) : RuntimeError.invalidFeed("input: " + message)
    }
    return tensor
  }

  /// For each node, the id of the last node that reads it (`Int.max` for outputs), or nil when no
  /// output depends on it.
  private static func lastUses(in graph: Graph) -> [Int?] {
    var lastUse = [Int?](repeating: nil, count: graph.nodes.count)
    for output in graph.outputs { lastUse[output.node] = Int.max }
    for id in graph.nodes.indices.reversed() where lastUse[id] != nil {
      for operand in graph[id].operands where lastUse[operand] == nil { lastUse[operand] = id }
    }
    return lastUse
  }

  private static func transposedViews(in graph: Graph) -> Set<Int> {
    let users = graph.users()
    let outputs = Set(graph.outputs.map(\.node))
    return Set(graph.nodes.indices.filter { id in
      guard case .permute(let order) = graph[id].op, order.count >= 2, graph[id].dtype == .f32,
            !outputs.contains(id), !users[id].isEmpty else { return false }
      let rank = order.count
      let swapsLastTwo = order == Array(0..<(rank - 2)) + [rank - 1, rank - 2]
      return swapsLastTwo && users[id].allSatisfy { graph[$0].op == .matmul }
    })
  }

  // MARK: - One op

  private static func evaluate(_ id: Int, graph: Graph, values: [RuntimeTensor.Storage?], views: Set<Int>,
                               kernels: EagerKernels, gemm: EagerGEMM) throws(RuntimeError) -> RuntimeTensor.Storage {
    let node = graph[id]
    func operand(_ position: Int) throws(RuntimeError) -> RuntimeTensor.Storage {
      guard let value = values[node.operands[position]] else {
        throw RuntimeError.unsupported("eager-blas: node \(id) reads node \(node.operands[position]), which has no value")
      }
      return value
    }
    func floats(_ position: Int) throws(RuntimeError) -> [Float] {
      guard case .f32(let values) = try operand(position) else {
        throw RuntimeError.unsupported("eager-blas: node \(id) (\(node.op.kind)) needs f32 operand \(position)")
      }
      return values
    }
    func shape(_ position: Int) -> Shape { graph[node.operands[position]].shape }
    func resolved(_ axis: Int, _ shape: Shape) -> Int { axis < 0 ? axis + shape.rank : axis }

    switch node.op {
    case .input(let name), .param(let name):
      throw RuntimeError.invalidFeed("'\(name)' (node \(id)) was not supplied")
    case .constant(let constant):
      let count = node.shape.elementCount
      guard node.dtype == .i32 else { return .f32((0..<count).map { Float(constant.value(at: $0)) }) }
      var indices: [Int32] = []
      indices.reserveCapacity(count)
      for position in 0..<count {
        guard let index = Int32(exactly: constant.value(at: position)) else {
          throw RuntimeError.unsupported(
            "eager-blas: i32 constant at node \(id) holds \(constant.value(at: position)) at position \(position), not an i32")
        }
        indices.append(index)
      }
      return .i32(indices)
    case .unary(let op):
      return .f32(kernels.unary(op, try floats(0)))
    case .binary(let op):
      return .f32(kernels.binary(op, try floats(0), shape(0), try floats(1), shape(1), result: node.shape))
    case .reduce(let op, let axis):
      return .f32(kernels.reduce(op, try floats(0), shape: shape(0), axis: resolved(axis, shape(0))))
    case .matmul:
      func side(_ position: Int) throws(RuntimeError) -> MatmulOperand {
        MatmulOperand(values: try floats(position), shape: shape(position), isTransposed: views.contains(node.operands[position]))
      }
      return .f32(gemm.matmul(try side(0), try side(1), result: node.shape))
    case .conv2d(let attributes):
      return .f32(gemm.conv2d(try floats(0), shape(0), try floats(1), shape(1), attributes, result: node.shape))
    case .upsampleNearest(let scale):
      return .f32(kernels.upsampleNearest(try floats(0), shape: shape(0), scale: scale))
    case .gather:
      guard case .i32(let indices) = try operand(1) else {
        throw RuntimeError.unsupported("eager-blas: gather at node \(id) needs i32 indices")
      }
      let table = try floats(0)
      do {
        return .f32(try kernels.gather(table: table, shape: shape(0), indices: indices))
      } catch {
        throw RuntimeError.invalidFeed(
          "gather at node \(id) ('\(node.scope)'): index \(error.index) at position \(error.position) is not a row of the \(error.rows)-row table")
      }
    case .reshape:
      return try operand(0)
    case .permute where views.contains(id):
      return try operand(0)
    case .permute(let order):
      switch try operand(0) {
      case .f32(let x): return .f32(kernels.permute(x, shape: shape(0), order: order))
      case .i32(let x): return .i32(kernels.permute(x, shape: shape(0), order: order))
      }
    case .slice(let axis, let start, let end):
      let axis = resolved(axis, shape(0))
      switch try operand(0) {
      case .f32(let x): return .f32(kernels.slice(x, shape: shape(0), axis: axis, start: start, end: end))
      case .i32(let x): return .i32(kernels.slice(x, shape: shape(0), axis: axis, start: start, end: end))
      }
    case .expand:
      switch try operand(0) {
      case .f32(let x): return .f32(kernels.expand(x, from: shape(0), to: node.shape))
      case .i32(let x): return .i32(kernels.expand(x, from: shape(0), to: node.shape))
      }
    case .concat(let axis):
      let axis = resolved(axis, node.shape)
      var floatParts: [([Float], Shape)] = []
      var indexParts: [([Int32], Shape)] = []
      for position in node.operands.indices {
        switch try operand(position) {
        case .f32(let x): floatParts.append((x, shape(position)))
        case .i32(let x): indexParts.append((x, shape(position)))
        }
      }
      return node.dtype == .i32
        ? .i32(kernels.concat(indexParts.map { (values: $0.0, shape: $0.1) }, axis: axis, result: node.shape))
        : .f32(kernels.concat(floatParts.map { (values: $0.0, shape: $0.1) }, axis: axis, result: node.shape))
    }
  }
}
