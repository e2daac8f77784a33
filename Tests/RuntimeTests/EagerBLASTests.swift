import Codegen
import Foundation
import KilnTestSupport
import Models
import Runtime
import Testing
import Tracer

/// Runs `graph` on eager-BLAS and on the Double interpreter with the same feeds and compares
/// every output within the fp32 tolerance.
private func expectEagerMatchesReference(_ graph: Graph, feeds: Feeds, threads: Int = 2, seed: UInt64,
                                         sourceLocation: SourceLocation = #_sourceLocation) throws {
  let dtypes = leafDTypes(graph)
  let executor = try EagerBLASExecutor(graph: graph, weights: try runtimeTensors(feeds.params, dtypes: dtypes),
                                       threads: threads)
  let outputs = try executor.run(try runtimeTensors(feeds.inputs, dtypes: dtypes))
  let expected = try ReferenceInterpreter.evaluate(graph, inputs: feeds.inputs, params: feeds.params)
  assertClose(try outputs.mapValues { try $0.host }, expected, tolerance: float32Tolerance, seed: seed,
              sourceLocation: sourceLocation)
}

/// A graph of one primitive applied to inputs `x0`, `x1`, … of the given shapes and dtypes.
private func singleOpGraph(_ op: Op, _ operands: [(shape: Shape, dtype: DType)]) throws -> Graph {
  var nodes = operands.enumerated().map { position, operand in
    Node(op: .input("x\(position)"), operands: [], shape: operand.shape, dtype: operand.dtype)
  }
  let (shape, dtype) = try ShapeInference.infer(op, operands: operands)
  nodes.append(Node(op: op, operands: Array(operands.indices), shape: shape, dtype: dtype, scope: "op"))
  return Graph(nodes: nodes, outputs: [GraphOutput(name: "y", node: nodes.count - 1)])
}

private func expectSingleOpMatchesReference(_ op: Op, _ shapes: [Shape], seed: UInt64, positive: Bool = false,
                                            sourceLocation: SourceLocation = #_sourceLocation) throws {
  let graph = try singleOpGraph(op, shapes.map { ($0, DType.f32) })
  var feeds = randomFeeds(for: graph, seed: seed)
  if positive {
    feeds.inputs = feeds.inputs.mapValues { tensor in
      var positive = tensor
      positive.values = tensor.values.map { Swift.abs($0) }
      return positive
    }
  }
  try expectEagerMatchesReference(graph, feeds: feeds, seed: seed, sourceLocation: sourceLocation)
}

@Suite struct EagerBLASPrimitiveTests {
  /// The second shape has more elements than one thread's grain, so the threaded split runs too.
  @Test(arguments: UnaryOp.allCases)
  func unaryMatchesReferenceOnAwkwardAndThreadedShapes(_ op: UnaryOp) throws {
    let positive = [UnaryOp.log, .sqrt, .rsqrt].contains(op)
    for (index, shape) in [Shape([3, 17, 31]), Shape([5, 131, 67]), Shape([1])].enumerated() {
      try expectSingleOpMatchesReference(.unary(op), [shape], seed: 100 + UInt64(index), positive: positive)
    }
  }

  static let broadcastCases: [(Shape, Shape)] = [
    ([7, 13], [7, 13]),  // same shape
    ([5, 131, 67], [5, 131, 67]),  // same shape, threaded
    ([3, 7, 13], [13]),  // bias row
    ([13], [3, 7, 13]),  // row on the left
    ([3, 7, 13], [3, 7, 1]),  // per-row statistic
    ([3, 7, 1], [3, 7, 13]),
    ([3, 7, 13], []),  // scalar
    ([], [3, 7, 13]),
    ([11, 1], [1, 17]),  // outer product
    ([2, 1, 5, 7], [3, 1, 7]),  // batch broadcast on both sides
    ([1, 1], [1]),
    ([67, 1, 509], [67, 3, 1]),  // threaded broadcast
  ]

  @Test(arguments: BinaryOp.allCases)
  func binaryMatchesReferenceUnderEveryBroadcast(_ op: BinaryOp) throws {
    for (index, (left, right)) in Self.broadcastCases.enumerated() {
      try expectSingleOpMatchesReference(.binary(op), [left, right], seed: 200 + UInt64(index), positive: op == .pow)
    }
  }

  @Test(arguments: ReduceOp.allCases)
  func reductionMatchesReferenceOverEveryAxis(_ op: ReduceOp) throws {
    for shape in [Shape([5, 13, 7]), Shape([3, 1031, 17]), Shape([1, 37]), Shape([2, 1, 3])] {
      for axis in -1..<shape.rank {
        try expectSingleOpMatchesReference(.reduce(op, axis: axis), [shape], seed: 300 + UInt64(shape.rank + axis))
      }
    }
  }

  static let matmulCases: [(Shape, Shape)] = [
    ([7, 13], [13, 5]),
    ([1, 13], [13, 1]),
    ([7, 1], [1, 5]),
    ([2, 3, 7, 13], [13, 5]),  // weight shared by every batch element
    ([2, 1, 7, 13], [3, 13, 5]),  // batch broadcast on both sides
    ([7, 13], [4, 13, 5]),  // left operand shared
    ([3, 7, 13], [3, 13, 5]),  // attention-like
    ([1, 3, 7, 13], [1, 1, 13, 17]),
  ]

  @Test(arguments: matmulCases.indices)
  func matmulMatchesReferenceWithBroadcastBatches(_ index: Int) throws {
    let (left, right) = Self.matmulCases[index]
    try expectSingleOpMatchesReference(.matmul, [left, right], seed: 400 + UInt64(index))
  }

  /// Transposes read only by matmuls become BLAS transpose flags; one also read by an add is copied.
  @Test func matmulOfTransposedViewsMatchesReference() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [2, 3, 7, 13])
      let weight = b.param("weight", [5, 13])
      b.output("linear", x.matmul(weight.transposed(0, 1)))
      let left = b.input("left", [3, 13, 7])
      b.output("leftTransposed", left.transposed().matmul(b.input("right", [2, 3, 13, 5])))
      let both = b.input("both", [4, 11, 13])
      b.output("bothTransposed", both.transposed().matmul(b.param("square", [4, 13, 11]).transposed()))
      let shared = b.input("shared", [13, 7]).transposed()
      b.output("sharedTransposeAlsoAdded", shared.matmul(b.input("y", [13, 13])) + shared.sum(axis: -1))
    }
    let seed: UInt64 = 450
    try expectEagerMatchesReference(graph, feeds: randomFeeds(for: graph, seed: seed), seed: seed)
  }

  static let convolutionCases: [(input: Shape, weight: Shape, Conv2DAttributes)] = [
    ([1, 3, 7, 5], [5, 3, 3, 3], Conv2DAttributes()),
    ([2, 3, 11, 13], [7, 3, 3, 3], Conv2DAttributes(stride: [1, 1], padding: [1, 1])),
    ([2, 4, 11, 13], [6, 2, 3, 1], Conv2DAttributes(stride: [2, 1], padding: [1, 0], groups: 2)),
    ([1, 6, 9, 9], [6, 1, 3, 3], Conv2DAttributes(stride: [1, 1], padding: [1, 1], groups: 6)),  // depthwise
    ([2, 5, 7, 3], [11, 5, 1, 1], Conv2DAttributes()),  // pointwise: no im2col
    ([1, 3, 17, 17], [4, 3, 2, 2], Conv2DAttributes(stride: [2, 2], padding: [0, 0])),  // patch embedding
    ([1, 2, 5, 5], [3, 2, 5, 5], Conv2DAttributes(stride: [3, 3], padding: [2, 2])),
  ]

  @Test(arguments: convolutionCases.indices)
  func conv2dMatchesReferenceWithStridesPaddingAndGroups(_ index: Int) throws {
    let (input, weight, attributes) = Self.convolutionCases[index]
    try expectSingleOpMatchesReference(.conv2d(attributes), [input, weight], seed: 500 + UInt64(index))
  }

  @Test func shapeOpsMatchReference() throws {
    let shape: Shape = [2, 3, 5, 7]
    let ops: [(Op, [Shape])] = [
      (.reshape([6, 35]), [shape]),
      (.permute([0, 2, 1, 3]), [shape]),
      (.permute([3, 1, 0, 2]), [shape]),
      (.permute([0, 1, 3, 2]), [[2, 1, 5, 7]]),
      (.slice(axis: 2, start: 1, end: 4), [shape]),
      (.slice(axis: -1, start: 6, end: 7), [shape]),
      (.slice(axis: 0, start: 1, end: 2), [shape]),
      (.concat(axis: 1), [shape, [2, 1, 5, 7], [2, 4, 5, 7]]),
      (.concat(axis: -1), [[3, 2], [3, 5]]),
      (.concat(axis: 0), [[1, 7], [2, 7]]),
      (.expand([2, 3, 5, 7]), [[3, 1, 7]]),
      (.expand([4, 3]), [[3]]),
      (.expand([3, 5]), [[3, 5]]),
      (.upsampleNearest(scale: 2), [[2, 3, 5, 7]]),
      (.upsampleNearest(scale: 3), [[1, 13]]),
    ]
    for (index, (op, shapes)) in ops.enumerated() {
      try expectSingleOpMatchesReference(op, shapes, seed: 600 + UInt64(index))
    }
  }

  /// i32 indices travel through shape ops (as token ids and labels do) before the lookup.
  @Test func gatherReadsIndicesMovedByShapeOps() throws {
    let graph = try Graph.trace { b in
      let table = b.param("table", [11, 13])
      let indices = b.input("ids", [3, 5], dtype: .i32).permute([1, 0]).slice(axis: 0, 1..<4).reshape([9])
      let more = Tensor.concat([indices, b.input("extra", [2], dtype: .i32)], axis: 0)
      b.output("rows", table.gather(more.reshape([1, 11]).expand([2, 11])))
    }
    let seed: UInt64 = 700
    try expectEagerMatchesReference(graph, feeds: randomFeeds(for: graph, seed: seed), seed: seed)
  }

  @Test func gatherRefusesAnIndexOutsideTheTable() throws {
    let graph = try singleOpGraph(.gather, [([7, 3], .f32), ([4], .i32)])
    let executor = try EagerBLASExecutor(graph: graph, weights: [:], threads: 1)
    let table = try RuntimeTensor(shape: [7, 3], floats: (0..<21).map(Float.init))
    let indices = try RuntimeTensor(shape: [4], storage: .i32([0, 6, 7, 1]))
    #expect {
      _ = try executor.run(["x0": table, "x1": indices])
    } throws: { error in
      "\(error)".contains("index 7 at position 2") && "\(error)".contains("7-row table")
    }
  }

  @Test func integerConstantThatIsNotAnInt32IsRefusedAtLoad() throws {
    let graph = Graph(nodes: [
      Node(op: .input("table"), operands: [], shape: [3, 2], dtype: .f32),
      Node(op: .constant(.dense([0, 2.5])), operands: [], shape: [2], dtype: .i32),
      Node(op: .gather, operands: [0, 1], shape: [2, 2], dtype: .f32),
    ], outputs: [GraphOutput(name: "rows", node: 2)])
    #expect {
      _ = try EagerBLASExecutor(graph: graph, weights: [:], threads: 1)
    } throws: { "\($0)".contains("holds 2.5 at position 1") }
  }

  /// Tables built from constants (a sin/cos position ramp) are computed at load, then read by every run.
  @Test func constantTablesComputedAtLoadMatchReference() throws {
    let graph = try Graph.trace { b in
      let ramp = b.arange(17, start: 0.5, step: 0.25).reshape([17, 1]) * b.arange(6, step: 0.1).reshape([1, 6])
      let table = Tensor.concat([ramp.sin(), ramp.cos()], axis: -1)
      b.output("y", b.input("x", [3, 17, 12]) + table)
      b.output("table", table)
    }
    let seed: UInt64 = 800
    let feeds = randomFeeds(for: graph, seed: seed)
    try expectEagerMatchesReference(graph, feeds: feeds, seed: seed)
    // Two runs of one executor give the same result: the tables are not consumed by the first.
    let executor = try EagerBLASExecutor(graph: graph, weights: [:], threads: 2)
    let inputs = try runtimeTensors(feeds.inputs, dtypes: leafDTypes(graph))
    #expect(try executor.run(inputs) == executor.run(inputs))
  }
}

@Suite struct EagerBLASFeedTests {
  private func linearGraph() throws -> Graph {
    try Graph.trace { b in
      b.output("y", b.input("x", [2, 3]).matmul(b.param("w", [3, 4])) + b.param("bias", [4]))
    }
  }

  @Test func missingWeightIsNamed() throws {
    let weights = ["w": try RuntimeTensor(shape: [3, 4], floats: .init(repeating: 1, count: 12))]
    #expect {
      _ = try EagerBLASExecutor(graph: try linearGraph(), weights: weights, threads: 1)
    } throws: { error in "\(error)".contains("'bias' is missing") }
  }

  @Test func weightOfWrongShapeIsRefusedWithBothShapes() throws {
    let weights = [
      "w": try RuntimeTensor(shape: [4, 3], floats: .init(repeating: 1, count: 12)),
      "bias": try RuntimeTensor(shape: [4], floats: .init(repeating: 1, count: 4)),
    ]
    #expect {
      _ = try EagerBLASExecutor(graph: try linearGraph(), weights: weights, threads: 1)
    } throws: { error in "\(error)".contains("'w' is f32 [4, 3]; the graph needs f32 [3, 4]") }
  }

  @Test func inputsAreCheckedByNameShapeAndDType() throws {
    let weights = [
      "w": try RuntimeTensor(shape: [3, 4], floats: .init(repeating: 1, count: 12)),
      "bias": try RuntimeTensor(shape: [4], floats: .init(repeating: 1, count: 4)),
    ]
    let executor = try EagerBLASExecutor(graph: try linearGraph(), weights: weights, threads: 1)
    #expect { _ = try executor.run([:]) } throws: { "\($0)".contains("'x' is missing") }
    let indices = try RuntimeTensor(shape: [2, 3], storage: .i32([0, 1, 2, 0, 1, 2]))
    #expect { _ = try executor.run(["x": indices]) } throws: { "\($0)".contains("'x' is i32 [2, 3]") }
    let x = try RuntimeTensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6])
    #expect { _ = try executor.run(["x": x, "z": x]) } throws: { "\($0)".contains("'z' is not an input") }
    let y = try #require(try executor.run(["x": x])["y"])
    #expect(y.floats == [7, 7, 7, 7, 16, 16, 16, 16])
  }
}

/// Every registered family's tiny config, random weights and inputs, against the interpreter.
@Suite struct EagerBLASModelTests {
  @Test(arguments: ModelRegistry.families.map(\.name))
  func tinyConfigMatchesReference(family name: String) throws {
    let family = try #require(ModelRegistry.family(named: name))
    let graph = try family.trace(config: "tiny")
    let seed: UInt64 = 0xEA6E5
    try expectEagerMatchesReference(graph, feeds: randomFeeds(for: graph, seed: seed), seed: seed)
  }
}
