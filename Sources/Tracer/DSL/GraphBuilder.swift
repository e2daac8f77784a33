/// Records the ops a model performs into a `Graph`. Models call it through `Tensor` values.
///
/// Tracing never throws from an individual op, so model code reads like the paper: the first
/// shape error is remembered (with the node's scope) and thrown by `Graph.trace` at the end.
public final class GraphBuilder {
  public private(set) var graph = Graph()
  private var scopeStack: [String] = []
  private(set) var firstError: TracerError?

  public init() {}

  /// The current scope path, such as `transformer_blocks.3.attn1`.
  public var currentScope: String { scopeStack.joined(separator: ".") }

  /// Runs `body` with `name` appended to the scope path (parameter names and node scopes).
  @discardableResult
  public func scope<Result>(_ name: String, _ body: () throws -> Result) rethrows -> Result {
    scopeStack.append(name)
    defer { scopeStack.removeLast() }
    return try body()
  }

  /// A graph input such as the latent, the timestep or the class label.
  public func input(_ name: String, _ shape: Shape, dtype: DType = .f32) -> Tensor {
    leaf(.input(name), shape: shape, dtype: dtype)
  }

  /// A weight, named as in the checkpoint: the current scope path plus `name`.
  public func param(_ name: String, _ shape: Shape, dtype: DType = .f32) -> Tensor {
    let fullName = scopeStack.isEmpty ? name : currentScope + "." + name
    return leaf(.param(fullName), shape: shape, dtype: dtype)
  }

  /// A constant tensor; a scalar when `shape` is empty.
  public func constant(_ value: ConstantValue, _ shape: Shape = [], dtype: DType = .f32) -> Tensor {
    if case .dense(let values) = value, values.count != shape.elementCount {
      record(.invalidOp(node: graph.nodes.count, scope: currentScope,
                        message: "constant has \(values.count) values for shape \(shape)"))
    }
    return leaf(.constant(value), shape: shape, dtype: dtype)
  }

  /// A scalar constant.
  public func scalar(_ value: Double, dtype: DType = .f32) -> Tensor {
    constant(.splat(value), [], dtype: dtype)
  }

  /// `[start, start + step, …]` with `count` elements.
  public func arange(_ count: Int, start: Double = 0, step: Double = 1) -> Tensor {
    constant(.arange(start: start, step: step), [count])
  }

  /// Marks `tensor` as a named output of the graph.
  public func output(_ name: String, _ tensor: Tensor) {
    graph.outputs.append(GraphOutput(name: name, node: tensor.id))
  }

  /// Appends `op` applied to `operands`; on a shape error, records it and returns a placeholder
  /// tensor with the first operand's shape so tracing can finish and report the first error.
  func apply(_ op: Op, _ operands: [Tensor]) -> Tensor {
    let id = graph.nodes.count
    do {
      let (shape, dtype) = try ShapeInference.infer(op, operands: operands.map { ($0.shape, $0.dtype) })
      return append(Node(op: op, operands: operands.map(\.id), shape: shape, dtype: dtype, scope: currentScope))
    } catch {
      record(.invalidOp(node: id, scope: currentScope, message: error.message))
      let fallback = operands.first.map { ($0.shape, $0.dtype) } ?? (Shape([1]), DType.f32)
      return append(Node(op: op, operands: operands.map(\.id), shape: fallback.0, dtype: fallback.1, scope: currentScope))
    }
  }

  /// Records a problem found by model code itself (a config that cannot work, say).
  public func fail(_ message: String) {
    record(.invalidOp(node: nil, scope: currentScope, message: message))
  }

  private func leaf(_ op: Op, shape: Shape, dtype: DType) -> Tensor {
    do throws(ShapeError) {
      try ShapeInference.validate(shape)
    } catch {
      record(.invalidOp(node: graph.nodes.count, scope: currentScope, message: "\(op.kind): \(error.message)"))
    }
    return append(Node(op: op, operands: [], shape: shape, dtype: dtype, scope: currentScope))
  }

  private func append(_ node: Node) -> Tensor {
    graph.nodes.append(node)
    return Tensor(id: graph.nodes.count - 1, shape: node.shape, dtype: node.dtype, builder: self)
  }

  private func record(_ error: TracerError) {
    if firstError == nil { firstError = error }
  }
}

extension Graph {
  /// Traces `body` into a graph, throwing the first error any op met.
  public static func trace(_ body: (GraphBuilder) throws -> Void) throws -> Graph {
    let builder = GraphBuilder()
    try body(builder)
    if let error = builder.firstError { throw error }
    guard !builder.graph.outputs.isEmpty else {
      throw TracerError.invalidGraph("the traced function produced no output")
    }
    return builder.graph
  }
}
