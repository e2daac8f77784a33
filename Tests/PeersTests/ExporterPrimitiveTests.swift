import Bench
import KilnTestSupport
import Testing
import Tracer

/// One tiny graph per primitive (and per form the exporter lowers differently), built with the
/// DSL, exported to ONNX and run in ONNX Runtime, against the Double reference interpreter.
@Suite(.enabled(if: peersAreInstalled, "the peers are not installed here: `make peers` adds ONNX Runtime and OpenVINO"))
struct ExporterPrimitiveTests {
  struct Case: CustomStringConvertible, Sendable {
    let description: String
    let build: @Sendable (GraphBuilder) -> Tensor
  }

  static let unaryCases: [Case] = UnaryOp.allCases.map { op in
    Case(description: op.rawValue) { b in
      let x = b.input("x", [3, 5])
      // log, sqrt, rsqrt and reciprocal need positive operands away from zero.
      let positive = [.log, .sqrt, .rsqrt, .reciprocal].contains(op)
      return (positive ? x.exp() : x).unary(op)
    }
  }

  static let binaryCases: [Case] = BinaryOp.allCases.map { op in
    Case(description: op.rawValue + " broadcast") { b in
      let x = b.input("x", [3, 1, 5])
      let y = b.input("z", [4, 1])
      return (op == .pow ? x.exp() : x).binary(op, y)
    }
  }

  static let reductionCases: [Case] = ReduceOp.allCases.flatMap { op in
    [0, 1, -1].map { axis in
      Case(description: "reduce_\(op.rawValue) axis \(axis)") { b in
        let x = b.input("x", [2, 3, 5])
        switch op {
        case .sum: return x.sum(axis: axis)
        case .max: return x.max(axis: axis)
        case .mean: return x.mean(axis: axis)
        }
      }
    }
  }

  static let structuralCases: [Case] = [
    Case(description: "matmul 2-D") { b in b.input("a", [3, 4]).matmul(b.param("w", [4, 5])) },
    Case(description: "matmul batch broadcast") { b in b.input("a", [2, 1, 3, 4]).matmul(b.input("b", [5, 4, 6])) },
    Case(description: "reshape") { b in b.input("x", [2, 3, 4]).reshape([4, 6]) },
    Case(description: "permute") { b in b.input("x", [2, 3, 4]).permute([2, 0, 1]) },
    Case(description: "slice") { b in b.input("x", [2, 7, 3]).slice(axis: 1, 2..<5) },
    Case(description: "slice last axis") { b in b.input("x", [2, 7]).slice(axis: -1, 0..<3) },
    Case(description: "concat") { b in Tensor.concat([b.input("x", [2, 3]), b.input("z", [2, 4])], axis: -1) },
    Case(description: "expand") { b in b.input("x", [3, 1]).expand([2, 3, 4]) },
    Case(description: "conv2d stride padding groups") { b in
      b.input("x", [2, 4, 7, 6]).conv2d(b.param("w", [6, 2, 3, 3]), stride: 2, padding: 1, groups: 2)
    },
    Case(description: "conv2d 1x1") { b in b.input("x", [1, 3, 5, 5]).conv2d(b.param("w", [4, 3, 1, 1])) },
    Case(description: "upsample_nearest NCHW") { b in b.input("x", [1, 2, 3, 4]).upsampleNearest(2) },
    Case(description: "upsample_nearest rank 3") { b in b.input("x", [2, 3, 4]).upsampleNearest(3) },
    Case(description: "gather") { b in b.param("table", [7, 4]).gather(b.input("ids", [2, 3], dtype: .i32)) },
    Case(description: "splat constant") { b in b.input("x", [2, 3]) + b.constant(.splat(0.5), [2, 3]) },
    Case(description: "scalar constant") { b in b.input("x", [2, 3]) * 3 },
    Case(description: "arange constant") { b in b.input("x", [4]) + b.arange(4, start: -1, step: 0.5) },
    Case(description: "dense constant") { b in b.input("x", [2, 2]) * b.constant(.dense([1, -2, 3.5, 4]), [2, 2]) },
  ]

  @Test(arguments: unaryCases + binaryCases + reductionCases + structuralCases)
  func primitiveMatchesTheReferenceInONNXRuntime(_ testCase: Case) throws {
    let graph = try Graph.trace { b in b.output("y", testCase.build(b)) }
    let (weights, inputs) = try randomRuntimeFeeds(graph, seed: 0xF00D)
    let loads = try peerLoads(graph, weights: weights, inputs: inputs, peers: [.onnxruntime])
    expectParity(loads, peers: [.onnxruntime], testCase.description)
  }

  @Test func everyPrimitiveKindHasACase() throws {
    var kinds = Set<String>()
    for testCase in Self.unaryCases + Self.binaryCases + Self.reductionCases + Self.structuralCases {
      let graph = try Graph.trace { b in b.output("y", testCase.build(b)) }
      kinds.formUnion(graph.nodes.map(\.op.kind))
    }
    let expected = Set(UnaryOp.allCases.map(\.rawValue) + BinaryOp.allCases.map(\.rawValue)
      + ReduceOp.allCases.map { "reduce_" + $0.rawValue }
      + ["input", "param", "constant", "matmul", "reshape", "permute", "slice", "concat", "expand", "conv2d",
         "upsample_nearest", "gather"])
    #expect(expected.subtracting(kinds).isEmpty, "no case for \(expected.subtracting(kinds).sorted())")
  }
}
