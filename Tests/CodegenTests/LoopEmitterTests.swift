import Codegen
import Foundation
import KilnTestSupport
import Testing
import Tracer

/// A kernel specification beside a graph that computes the same thing, so the compiled kernel can
/// be checked against the Double reference interpreter.
struct LoopCase: Sendable {
  enum Values: Sendable {
    case signed
    case positive
    /// Integers in 0 ..< bound (the graph reads them as f32 unless its input is i32).
    case integers(below: Int)
    case given([Double])
  }

  struct Operand: Sendable {
    var name: String
    var shape: Shape
    /// How the kernel receives it.
    var type: DType = .f32
    var values: Values = .signed
    /// What the graph's input holds instead, when the kernel must see something else (clamping).
    var graphValues: [Double]? = nil
  }

  var label: String
  var operands: [Operand]
  /// Graph outputs in kernel output order.
  var outputs: [String]
  var graph: Graph
  var render: @Sendable (_ name: String, _ vectorize: Bool) -> String
  var seed: UInt64 = 0x10_0B

  /// Inputs for the kernel (operand order) and for the graph (by name), drawn from `seed`.
  func draw() -> (kernel: [KernelArgument], graph: [String: HostTensor]) {
    var rng = Tracer.SplitMix64(seed: seed)
    var kernel: [KernelArgument] = []
    var graph: [String: HostTensor] = [:]
    for operand in operands {
      var values: [Double]
      switch operand.values {
      case .signed: values = randomTensor(operand.shape, using: &rng).values
      case .positive: values = randomTensor(operand.shape, using: &rng).values.map { abs($0) + 0.25 }
      case .integers(let bound): values = randomIndices(operand.shape, below: bound, using: &rng).values
      case .given(let given): values = given
      }
      kernel.append(operand.type == .i32 ? .i32(values.map { Int32($0) }) : .f32(values.map { Float($0) }))
      graph[operand.name] = try? HostTensor(shape: operand.shape, values: operand.graphValues ?? values)
    }
    return (kernel, graph)
  }

  func harnessKernel(index: Int, vectorize: Bool) -> HarnessKernel {
    let name = "k\(index)_\(vectorize ? "vec" : "scalar")"
    let outputCount = graph.outputs.count
    return HarnessKernel(function: render(name, vectorize), name: name, inputTypes: operands.map(\.type), outputCount: outputCount)
  }
}

enum LoopCases {
  static let all: [LoopCase] = softmax + [layerNorm(rows: 5, width: 13), layerNorm(rows: 2, width: 33), broadcastChain,
    permutedLoad, unaryOps, binaryOps, reductions, rankZero, rankOne, int32Operands, batchedMatmul, transposedMatmul,
    conv3x3Strided, conv1x1, gather, gatherClamped, upsample]

  static func loop(_ make: @escaping @Sendable (Bool) -> LoopKernel) -> @Sendable (String, Bool) -> String {
    { name, vectorize in LoopEmitter.function(named: name, make(vectorize)) }
  }

  static func trace(_ body: (GraphBuilder) -> Void) -> Graph {
    (try? Graph.trace { body($0) }) ?? Graph()
  }

  /// softmax over the last axis as five steps, on widths around every vector length's tails.
  static let softmax: [LoopCase] = [1, 7, 13, 33, 48].map { width in
    LoopCase(
      label: "softmax-\(width)", operands: [.init(name: "x", shape: [3, 2, width])], outputs: ["y"],
      graph: trace { b in
        let x = b.input("x", [3, 2, width])
        let e = (x - x.max(axis: -1)).exp()
        b.output("y", e / e.sum(axis: -1))
      },
      render: loop { vectorize in
        LoopKernel(
          shape: [3, 2, width], operandStrides: [[2 * width, width, 1]], outputCount: 1,
          steps: [.load(operand: 0), .reduce(.max, 0), .binary(.sub, 0, 1), .unary(.exp, 2), .reduce(.sum, 3), .binary(.div, 3, 4)],
          stores: [LoopStore(step: 5, output: 0, strides: [2 * width, width, 1])], vectorize: vectorize)
      })
  }

  /// Layer norm without affine (mean, sub, square, mean, rsqrt, mul); the row mean is a second
  /// output stored with an innermost stride the store must ignore.
  static func layerNorm(rows: Int, width: Int) -> LoopCase {
    LoopCase(
      label: "layernorm-\(width)", operands: [.init(name: "x", shape: [rows, width])], outputs: ["y", "mean"],
      graph: trace { b in
        let x = b.input("x", [rows, width])
        let mean = x.mean(axis: -1)
        let d = x - mean
        b.output("y", d * ((d * d).mean(axis: -1) + 1e-5).rsqrt())
        b.output("mean", mean)
      },
      render: loop { vectorize in
        LoopKernel(
          shape: [rows, width], operandStrides: [[width, 1]], outputCount: 2,
          steps: [.load(operand: 0), .reduce(.mean, 0), .binary(.sub, 0, 1), .binary(.mul, 2, 2), .reduce(.mean, 3),
                  .constant(1e-5), .binary(.add, 4, 5), .unary(.rsqrt, 6), .binary(.mul, 2, 7)],
          stores: [LoopStore(step: 8, output: 0, strides: [width, 1]), LoopStore(step: 1, output: 1, strides: [1, 1])],
          vectorize: vectorize)
      })
  }

  /// A scalar constant, a [1, N] row and a [M, 1] column broadcast over [6, 17]; the row and the
  /// column's sigmoid are also materialized (broadcast values stored element by element).
  static let broadcastChain = LoopCase(
    label: "broadcast-chain",
    operands: [.init(name: "x", shape: [6, 17]), .init(name: "row", shape: [1, 17]), .init(name: "col", shape: [6, 1])],
    outputs: ["y", "row_expanded", "gate_expanded"],
    graph: trace { b in
      let (x, row, col) = (b.input("x", [6, 17]), b.input("row", [1, 17]), b.input("col", [6, 1]))
      b.output("y", (x * 2.5 + row) * col.sigmoid() - col)
      b.output("row_expanded", row.expand([6, 17]))
      b.output("gate_expanded", col.sigmoid().expand([6, 17]))
    },
    render: loop { vectorize in
      LoopKernel(
        shape: [6, 17], operandStrides: [[17, 1], [0, 1], [1, 0]], outputCount: 3,
        steps: [.load(operand: 0), .load(operand: 1), .load(operand: 2), .constant(2.5), .binary(.mul, 0, 3), .binary(.add, 4, 1),
                .unary(.sigmoid, 2), .binary(.mul, 5, 6), .binary(.sub, 7, 2)],
        stores: [LoopStore(step: 8, output: 0, strides: [17, 1]), LoopStore(step: 1, output: 1, strides: [17, 1]),
                 LoopStore(step: 6, output: 2, strides: [17, 1])],
        vectorize: vectorize)
    })

  /// x stored as [17, 5] and read transposed (innermost stride 5): the scalar path even when
  /// vectorizing. The result is also stored transposed.
  static let permutedLoad = LoopCase(
    label: "permuted-load", operands: [.init(name: "xt", shape: [17, 5]), .init(name: "y", shape: [5, 17])],
    outputs: ["z", "zt"],
    graph: trace { b in
      let z = b.input("xt", [17, 5]).permute([1, 0]).exp() + b.input("y", [5, 17])
      b.output("z", z)
      b.output("zt", z.permute([1, 0]))
    },
    render: loop { vectorize in
      LoopKernel(
        shape: [5, 17], operandStrides: [[1, 5], [17, 1]], outputCount: 2,
        steps: [.load(operand: 0), .unary(.exp, 0), .load(operand: 1), .binary(.add, 1, 2)],
        stores: [LoopStore(step: 3, output: 0, strides: [17, 1]), LoopStore(step: 3, output: 1, strides: [1, 5])],
        vectorize: vectorize)
    })

  static let needsPositive: Set<UnaryOp> = [.log, .sqrt, .rsqrt]

  /// Every unary op, one output each (log, sqrt, rsqrt on positive values).
  static let unaryOps = LoopCase(
    label: "unary-ops", operands: [.init(name: "x", shape: [3, 37]), .init(name: "p", shape: [3, 37], values: .positive)],
    outputs: UnaryOp.allCases.map(\.rawValue),
    graph: trace { b in
      let (x, p) = (b.input("x", [3, 37]), b.input("p", [3, 37]))
      for op in UnaryOp.allCases { b.output(op.rawValue, (needsPositive.contains(op) ? p : x).unary(op)) }
    },
    render: loop { vectorize in
      let ops = UnaryOp.allCases
      return LoopKernel(
        shape: [3, 37], operandStrides: [[37, 1], [37, 1]], outputCount: ops.count,
        steps: [.load(operand: 0), .load(operand: 1)] + ops.map { .unary($0, needsPositive.contains($0) ? 1 : 0) },
        stores: ops.indices.map { LoopStore(step: 2 + $0, output: $0, strides: [37, 1]) }, vectorize: vectorize)
    })

  /// Every binary op, one output each (pow of a positive base).
  static let binaryOps = LoopCase(
    label: "binary-ops",
    operands: [.init(name: "x", shape: [3, 37]), .init(name: "y", shape: [3, 37]), .init(name: "p", shape: [3, 37], values: .positive)],
    outputs: BinaryOp.allCases.map(\.rawValue),
    graph: trace { b in
      let (x, y, p) = (b.input("x", [3, 37]), b.input("y", [3, 37]), b.input("p", [3, 37]))
      for op in BinaryOp.allCases { b.output(op.rawValue, (op == .pow ? p : x).binary(op, y)) }
    },
    render: loop { vectorize in
      let ops = BinaryOp.allCases
      return LoopKernel(
        shape: [3, 37], operandStrides: [[37, 1], [37, 1], [37, 1]], outputCount: ops.count,
        steps: [.load(operand: 0), .load(operand: 1), .load(operand: 2)] + ops.map { .binary($0, $0 == .pow ? 2 : 0, 1) },
        stores: ops.indices.map { LoopStore(step: 3 + $0, output: $0, strides: [37, 1]) }, vectorize: vectorize)
    })

  /// sum of exp(x), max of x, mean of x² per row of [4, 33].
  static let reductions = LoopCase(
    label: "reductions", operands: [.init(name: "x", shape: [4, 33])], outputs: ["sum", "max", "mean"],
    graph: trace { b in
      let x = b.input("x", [4, 33])
      b.output("sum", x.exp().sum(axis: 1))
      b.output("max", x.max(axis: 1))
      b.output("mean", (x * x).mean(axis: 1))
    },
    render: loop { vectorize in
      LoopKernel(
        shape: [4, 33], operandStrides: [[33, 1]], outputCount: 3,
        steps: [.load(operand: 0), .unary(.exp, 0), .reduce(.sum, 1), .reduce(.max, 0), .binary(.mul, 0, 0), .reduce(.mean, 4)],
        stores: [LoopStore(step: 2, output: 0, strides: [1, 0]), LoopStore(step: 3, output: 1, strides: [1, 0]),
                 LoopStore(step: 5, output: 2, strides: [1, 0])],
        vectorize: vectorize)
    })

  /// One element: exp(x)·3 + x.
  static let rankZero = LoopCase(
    label: "rank-0", operands: [.init(name: "x", shape: [])], outputs: ["y"],
    graph: trace { b in
      let x = b.input("x", [])
      b.output("y", x.exp() * 3 + x)
    },
    render: loop { vectorize in
      LoopKernel(
        shape: [], operandStrides: [[]], outputCount: 1,
        steps: [.load(operand: 0), .unary(.exp, 0), .constant(3), .binary(.mul, 1, 2), .binary(.add, 3, 0)],
        stores: [LoopStore(step: 4, output: 0, strides: [])], vectorize: vectorize)
    })

  /// softmax of a [33] vector, with its sum as a second output.
  static let rankOne = LoopCase(
    label: "rank-1", operands: [.init(name: "x", shape: [33])], outputs: ["y", "sum"],
    graph: trace { b in
      let x = b.input("x", [33])
      let e = (x - x.max(axis: 0)).exp()
      let sum = e.sum(axis: 0)
      b.output("y", e / sum)
      b.output("sum", sum)
    },
    render: loop { vectorize in
      LoopKernel(
        shape: [33], operandStrides: [[1]], outputCount: 2,
        steps: [.load(operand: 0), .reduce(.max, 0), .binary(.sub, 0, 1), .unary(.exp, 2), .reduce(.sum, 3), .binary(.div, 3, 4)],
        stores: [LoopStore(step: 5, output: 0, strides: [1]), LoopStore(step: 4, output: 1, strides: [0])], vectorize: vectorize)
    })

  /// i32 operands (one unit-stride, one broadcast column) converted to float: x·k + c.
  static let int32Operands = LoopCase(
    label: "int32-operands",
    operands: [.init(name: "x", shape: [4, 9]), .init(name: "k", shape: [4, 9], type: .i32, values: .integers(below: 7)),
               .init(name: "c", shape: [4, 1], type: .i32, values: .integers(below: 100))],
    outputs: ["y"],
    graph: trace { b in
      b.output("y", b.input("x", [4, 9]) * b.input("k", [4, 9]) + b.input("c", [4, 1]))
    },
    render: loop { vectorize in
      var kernel = int32OperandsKernel
      kernel.vectorize = vectorize
      return kernel
    })

  /// [2, 3, 5, 7] · [3, 7, 33]: B broadcast over the first batch axis (stride 0).
  static let batchedMatmul = LoopCase(
    label: "matmul-batch-broadcast", operands: [.init(name: "a", shape: [2, 3, 5, 7]), .init(name: "b", shape: [3, 7, 33])],
    outputs: ["c"],
    graph: trace { b in b.output("c", b.input("a", [2, 3, 5, 7]).matmul(b.input("b", [3, 7, 33]))) },
    render: { name, vectorize in
      LoopEmitter.function(
        named: name,
        MatmulLoopKernel(batchShape: [2, 3], m: 5, n: 33, k: 7, aStrides: [105, 35, 7, 1], bStrides: [0, 231, 33, 1], vectorize: vectorize))
    })

  /// Aᵀ and Bᵀ read through strides: A stored [4, 9, 6], B stored [13, 9] and shared by the batch.
  static let transposedMatmul = LoopCase(
    label: "matmul-transposed", operands: [.init(name: "at", shape: [4, 9, 6]), .init(name: "bt", shape: [13, 9])],
    outputs: ["c"],
    graph: trace { b in
      b.output("c", b.input("at", [4, 9, 6]).transposed().matmul(b.input("bt", [13, 9]).transposed()))
    },
    render: { name, vectorize in
      LoopEmitter.function(
        named: name, MatmulLoopKernel(batchShape: [4], m: 6, n: 13, k: 9, aStrides: [54, 1, 6], bStrides: [0, 1, 9], vectorize: vectorize))
    })

  static let conv3x3Strided = LoopCase(
    label: "conv-3x3-stride2-pad1-groups2", operands: [.init(name: "x", shape: [2, 4, 9, 7]), .init(name: "w", shape: [6, 2, 3, 3])],
    outputs: ["y"],
    graph: trace { b in b.output("y", b.input("x", [2, 4, 9, 7]).conv2d(b.input("w", [6, 2, 3, 3]), stride: 2, padding: 1, groups: 2)) },
    render: { name, _ in
      LoopEmitter.function(
        named: name,
        Conv2DLoopKernel(batch: 2, inChannels: 4, height: 9, width: 7, outChannels: 6, kernelHeight: 3, kernelWidth: 3,
                         stride: [2, 2], padding: [1, 1], groups: 2))
    })

  static let conv1x1 = LoopCase(
    label: "conv-1x1", operands: [.init(name: "x", shape: [1, 3, 5, 6]), .init(name: "w", shape: [5, 3, 1, 1])], outputs: ["y"],
    graph: trace { b in b.output("y", b.input("x", [1, 3, 5, 6]).conv2d(b.input("w", [5, 3, 1, 1]))) },
    render: { name, _ in
      LoopEmitter.function(
        named: name,
        Conv2DLoopKernel(batch: 1, inChannels: 3, height: 5, width: 6, outChannels: 5, kernelHeight: 1, kernelWidth: 1,
                         stride: [1, 1], padding: [0, 0], groups: 1))
    })

  static let gather = LoopCase(
    label: "gather-in-range",
    operands: [.init(name: "table", shape: [11, 7]), .init(name: "idx", shape: [13], type: .i32, values: .integers(below: 11))],
    outputs: ["y"],
    graph: trace { b in b.output("y", b.input("table", [11, 7]).gather(b.input("idx", [13], dtype: .i32))) },
    render: { name, _ in LoopEmitter.function(named: name, GatherKernel(tableRows: 11, width: 7, indexCount: 13)) })

  /// Indices outside [0, 11) read the nearest row; the graph is given the clamped indices.
  static let gatherClamped = LoopCase(
    label: "gather-clamped",
    operands: [.init(name: "table", shape: [11, 7]),
               .init(name: "idx", shape: [5], type: .i32, values: .given([-3, 0, 10, 11, 40]), graphValues: [0, 0, 10, 10, 10])],
    outputs: ["y"],
    graph: trace { b in b.output("y", b.input("table", [11, 7]).gather(b.input("idx", [5], dtype: .i32))) },
    render: { name, _ in LoopEmitter.function(named: name, GatherKernel(tableRows: 11, width: 7, indexCount: 5)) })

  static let upsample = LoopCase(
    label: "upsample-x2", operands: [.init(name: "x", shape: [2, 3, 5, 7])], outputs: ["y"],
    graph: trace { b in b.output("y", b.input("x", [2, 3, 5, 7]).upsampleNearest(2)) },
    render: { name, _ in LoopEmitter.function(named: name, UpsampleKernel(planes: 6, height: 5, width: 7, scale: 2)) })
}

/// The profiles this host runs, each compiled once with every case (vectorized and scalar).
enum LoopCaseModules {
  static let candidates = ["generic", "x86-64-avx2", "x86-64-avx512"]

  static let runnable: [String] = {
    guard let host = try? HostDetection.current() else { return ["generic"] }
    return candidates.filter { name in
      guard let profile = try? HardwareProfile.named(name, host: host, store: scratchStore) else { return false }
      return profile.canRun(on: host) == nil
    }
  }()

  static let scratchStore = ProfileStore(directory: emptyFolder())

  static func entry(case index: Int, vectorize: Bool) -> Int { 2 * index + (vectorize ? 0 : 1) }

  static func build(_ name: String) -> Result<CompiledKernelHarness, any Error> {
    Result {
      let profile = try HardwareProfile.named(name, store: scratchStore)
      let kernels = LoopCases.all.enumerated().flatMap { index, loopCase in
        [true, false].map { loopCase.harnessKernel(index: index, vectorize: $0) }
      }
      return try CompiledKernelHarness.build(kernels: kernels, profile: profile)
    }
  }

  static let generic = build("generic")
  static let avx2 = build("x86-64-avx2")
  static let avx512 = build("x86-64-avx512")

  static func module(_ name: String) throws -> CompiledKernelHarness {
    switch name {
    case "x86-64-avx2": return try avx2.get()
    case "x86-64-avx512": return try avx512.get()
    default: return try generic.get()
    }
  }
}

@Suite struct LoopEmitterTests {
  /// Runs every case whose label starts with `prefix` on `profile`, vectorized and scalar, with 1
  /// and 3 threads, against the reference interpreter.
  func expectCasesMatchReference(_ prefix: String, profile: String) throws {
    let module = try LoopCaseModules.module(profile)
    let cases = LoopCases.all.enumerated().filter { $0.element.label.hasPrefix(prefix) }
    try #require(!cases.isEmpty, "no case labelled \(prefix)")
    for (index, loopCase) in cases {
      let inputs = loopCase.draw()
      let expected = try ReferenceInterpreter.evaluate(loopCase.graph, inputs: inputs.graph, params: [:])
      let references = try loopCase.outputs.map { try #require(expected[$0], "reference lacks output \($0)") }
      for vectorize in [true, false] {
        for threads in [1, 3] {
          let outputs = try module.run(
            entry: LoopCaseModules.entry(case: index, vectorize: vectorize), inputs: inputs.kernel,
            outputCounts: references.map(\.shape.elementCount), threads: threads)
          for (output, reference) in zip(outputs, references).map({ $0 }) {
            let actual = try HostTensor(shape: reference.shape, values: output.map(Double.init))
            let what = "\(profile) \(loopCase.label) \(vectorize ? "vectorized" : "scalar") \(threads) threads"
            assertClose(actual, reference, tolerance: float32Tolerance, seed: loopCase.seed, what)
          }
        }
      }
    }
  }

  @Test(arguments: LoopCaseModules.runnable)
  func softmaxStepsMatchReferenceOnAwkwardWidths(profile: String) throws {
    try expectCasesMatchReference("softmax", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func layerNormStepsMatchReferenceAndStoreTheRowMeanOncePerRow(profile: String) throws {
    try expectCasesMatchReference("layernorm", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func broadcastRowColumnAndScalarOperandsMatchReference(profile: String) throws {
    try expectCasesMatchReference("broadcast-chain", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func permutedLoadsAndStoresMatchReference(profile: String) throws {
    try expectCasesMatchReference("permuted-load", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func everyUnaryAndBinaryOpMatchesReference(profile: String) throws {
    try expectCasesMatchReference("unary-ops", profile: profile)
    try expectCasesMatchReference("binary-ops", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func sumMaxAndMeanReductionsMatchReference(profile: String) throws {
    try expectCasesMatchReference("reductions", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func rankZeroAndRankOneSpacesMatchReference(profile: String) throws {
    try expectCasesMatchReference("rank-0", profile: profile)
    try expectCasesMatchReference("rank-1", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func int32OperandsAreConvertedToFloat(profile: String) throws {
    try expectCasesMatchReference("int32-operands", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func matmulWithBatchBroadcastAndTransposedOperandsMatchesReference(profile: String) throws {
    try expectCasesMatchReference("matmul", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func convolutionWithStridePaddingAndGroupsMatchesReference(profile: String) throws {
    try expectCasesMatchReference("conv", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func gatherCopiesRowsAndClampsIndices(profile: String) throws {
    try expectCasesMatchReference("gather", profile: profile)
  }

  @Test(arguments: LoopCaseModules.runnable)
  func nearestUpsamplingMatchesReference(profile: String) throws {
    try expectCasesMatchReference("upsample", profile: profile)
  }

  // MARK: The text itself

  static func softmaxKernel(vectorize: Bool) -> LoopKernel {
    LoopKernel(
      shape: [4, 33], operandStrides: [[33, 1]], outputCount: 1,
      steps: [.load(operand: 0), .reduce(.max, 0), .binary(.sub, 0, 1), .unary(.exp, 2), .reduce(.sum, 3), .binary(.div, 3, 4)],
      stores: [LoopStore(step: 5, output: 0, strides: [33, 1])], vectorize: vectorize)
  }

  @Test func equalSpecificationsRenderEqualBodiesThatNeverMentionTheName() {
    let kernel = Self.softmaxKernel(vectorize: true)
    let first = LoopEmitter.function(named: "softmax_a", kernel)
    let second = LoopEmitter.function(named: "softmax_b", kernel)
    #expect(first.replacingOccurrences(of: "softmax_a", with: "softmax_b") == second)
    #expect(first.components(separatedBy: "softmax_a").count == 2)
    #expect(LoopEmitter.function(named: "softmax_a", kernel) == first)
  }

  @Test func vectorizedSoftmaxUsesVectorReductionsAndScalarSoftmaxUsesNone() {
    let vector = LoopEmitter.function(named: "f", Self.softmaxKernel(vectorize: true))
    let scalar = LoopEmitter.function(named: "f", Self.softmaxKernel(vectorize: false))
    #expect(vector.contains("kv_hmax") && vector.contains("kv_hsum") && vector.contains("kiln_store_n"))
    #expect(!scalar.contains("kv_") && !scalar.contains("KILN_VLEN"))
    #expect(scalar.contains("kiln_thread_range(4, thread_id, n_threads"))
  }

  @Test func aNonUnitInnermostLoadTakesTheScalarPathEvenWhenVectorizing() {
    let kernel = LoopKernel(
      shape: [5, 17], operandStrides: [[1, 5]], outputCount: 1, steps: [.load(operand: 0), .unary(.exp, 0)],
      stores: [LoopStore(step: 1, output: 0, strides: [17, 1])], vectorize: true)
    let text = LoopEmitter.function(named: "f", kernel)
    #expect(!text.contains("KILN_VLEN"))
    #expect(text.contains("src0[j * 5]"))
  }

  @Test func denseOuterAxesMergeIntoOneRowIndex() {
    let kernel = LoopKernel(
      shape: [2, 3, 8], operandStrides: [[24, 8, 1]], outputCount: 1, steps: [.load(operand: 0), .unary(.neg, 0)],
      stores: [LoopStore(step: 1, output: 0, strides: [24, 8, 1])], vectorize: false)
    let text = LoopEmitter.function(named: "f", kernel)
    #expect(text.contains("kiln_thread_range(6, thread_id, n_threads"))
    #expect(text.contains("const ptrdiff_t i0 = row;") && !text.contains("i1"))
  }

  @Test func generatedSignaturesHaveTheDocumentedShape() {
    let loop = LoopEmitter.function(named: "f", LoopCases.int32OperandsKernel)
    #expect(loop.hasPrefix("static void f(const float *in0, const int32_t *in1, const int32_t *in2, float *out0, int thread_id, int n_threads) {"))
    let matmul = LoopEmitter.function(
      named: "g", MatmulLoopKernel(batchShape: [], m: 2, n: 3, k: 4, aStrides: [4, 1], bStrides: [3, 1], vectorize: true))
    #expect(matmul.hasPrefix("static void g(const float *a, const float *b, float *c, int thread_id, int n_threads) {"))
    let gather = LoopEmitter.function(named: "h", GatherKernel(tableRows: 3, width: 2, indexCount: 4))
    #expect(gather.hasPrefix("static void h(const float *table, const int32_t *indices, float *out, int thread_id, int n_threads) {"))
    let upsample = LoopEmitter.function(named: "u", UpsampleKernel(planes: 1, height: 2, width: 2, scale: 2))
    #expect(upsample.hasPrefix("static void u(const float *x, float *y, int thread_id, int n_threads) {"))
  }
}

extension LoopCases {
  static let int32OperandsKernel = LoopKernel(
    shape: [4, 9], operandStrides: [[9, 1], [9, 1], [1, 0]], operandTypes: [.f32, .i32, .i32], outputCount: 1,
    steps: [.load(operand: 0), .load(operand: 1), .binary(.mul, 0, 1), .load(operand: 2), .binary(.add, 2, 3)],
    stores: [LoopStore(step: 4, output: 0, strides: [9, 1])], vectorize: true)
}
