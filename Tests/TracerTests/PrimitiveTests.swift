import Foundation
import KilnTestSupport
import Testing
import Tracer

/// Each primitive of the reference interpreter against values computed by hand.
@Suite struct PrimitiveTests {
  // MARK: Helpers

  /// Traces `body` over inputs `x0`, `x1`, … holding `operands`, and evaluates its one output.
  func evaluate(_ operands: [HostTensor], dtypes: [DType] = [], _ body: ([Tensor]) -> Tensor) throws -> HostTensor {
    var feeds: [String: HostTensor] = [:]
    let graph = try Graph.trace { b in
      let tensors = operands.enumerated().map { index, operand in
        b.input("x\(index)", operand.shape, dtype: index < dtypes.count ? dtypes[index] : .f32)
      }
      b.output("y", body(tensors))
    }
    for (index, operand) in operands.enumerated() { feeds["x\(index)"] = operand }
    return try #require(try ReferenceInterpreter.evaluate(graph, inputs: feeds, params: [:])["y"])
  }

  func tensor(_ shape: Shape, _ values: [Double]) throws -> HostTensor { try HostTensor(shape: shape, values: values) }

  func counting(_ shape: Shape, from start: Double = 0) throws -> HostTensor {
    try tensor(shape, (0..<shape.elementCount).map { start + Double($0) })
  }

  // MARK: Pointwise

  @Test func unaryOpsComputeTheirFunctions() throws {
    let x = try tensor([4], [0.25, 1, 4, -0.5])
    let exact: [UnaryOp: [Double]] = [
      .neg: [-0.25, -1, -4, 0.5],
      .reciprocal: [4, 1, 0.25, -2],
    ]
    let positive = try tensor([3], [0.25, 1, 4])
    let positiveExact: [UnaryOp: [Double]] = [.sqrt: [0.5, 1, 2], .rsqrt: [2, 1, 0.5], .log: [-Foundation.log(4), 0, Foundation.log(4)]]
    let transcendental: [UnaryOp: (Double) -> Double] = [
      .exp: { Foundation.exp($0) }, .tanh: { Foundation.tanh($0) }, .erf: { Foundation.erf($0) },
      .sigmoid: { 1 / (1 + Foundation.exp(-$0)) }, .sin: { Foundation.sin($0) }, .cos: { Foundation.cos($0) },
    ]
    for (op, expected) in exact { #expect(try evaluate([x]) { $0[0].unary(op) }.values == expected, "\(op)") }
    for (op, expected) in positiveExact {
      let values = try evaluate([positive]) { $0[0].unary(op) }.values
      #expect(relativeError(values, expected) < 1e-15, "\(op)")
    }
    for (op, function) in transcendental {
      #expect(try evaluate([x]) { $0[0].unary(op) }.values == x.values.map(function), "\(op)")
    }
    #expect(Set(exact.keys).union(positiveExact.keys).union(transcendental.keys) == Set(UnaryOp.allCases))
    #expect(abs(try evaluate([try tensor([1], [0])]) { $0[0].sigmoid() }.values[0] - 0.5) < 1e-15)
  }

  @Test func binaryOpsBroadcastColumnAgainstRowBothWays() throws {
    let column = try tensor([2, 1], [1, 2])
    let row = try tensor([3], [10, 20, 30])
    let sum = try evaluate([column, row]) { $0[0] + $0[1] }
    #expect(sum.shape == [2, 3])
    #expect(sum.values == [11, 21, 31, 12, 22, 32])
    let difference = try evaluate([row, column]) { $0[0] - $0[1] }
    #expect(difference.shape == [2, 3])
    #expect(difference.values == [9, 19, 29, 8, 18, 28])
  }

  @Test func binaryOpsComputeTheirFunctions() throws {
    let a = try tensor([2, 2], [1, -2, 3, 4])
    let b = try tensor([2], [2, -4])
    #expect(try evaluate([a, b]) { $0[0] * $0[1] }.values == [2, 8, 6, -16])
    #expect(try evaluate([a, b]) { $0[0] / $0[1] }.values == [0.5, 0.5, 1.5, -1])
    #expect(try evaluate([a, b]) { $0[0].maximum($0[1]) }.values == [2, -2, 3, 4])
    #expect(try evaluate([a, b]) { $0[0].minimum($0[1]) }.values == [1, -4, 2, -4])
    #expect(try evaluate([a, b]) { $0[0].pow($0[1]) }.values == [1, 1.0 / 16, 9, 1.0 / 256])
  }

  @Test func scalarBroadcastsOnEitherSide() throws {
    let x = try tensor([3], [1, 2, 3])
    #expect(try evaluate([x]) { 10 - $0[0] }.values == [9, 8, 7])
    #expect(try evaluate([x]) { $0[0] - 10 }.values == [-9, -8, -7])
    #expect(try evaluate([x]) { 6 / $0[0] }.values == [6, 3, 2])
  }

  @Test func higherRankOperandBroadcastsAgainstMiddleAxis() throws {
    let x = try counting([2, 3, 2])
    let middle = try tensor([3, 1], [100, 200, 300])
    let y = try evaluate([x, middle]) { $0[0] + $0[1] }
    #expect(y.values == [100, 101, 202, 203, 304, 305, 106, 107, 208, 209, 310, 311])
  }

  // MARK: Reductions

  @Test func reductionsKeepTheAxisAndAcceptNegativeAxes() throws {
    let x = try tensor([2, 3], [1, 2, 3, 4, 5, 6])
    let rowSums = try evaluate([x]) { $0[0].sum(axis: -1) }
    #expect(rowSums.shape == [2, 1])
    #expect(rowSums.values == [6, 15])
    let columnMeans = try evaluate([x]) { $0[0].mean(axis: -2) }
    #expect(columnMeans.shape == [1, 3])
    #expect(columnMeans.values == [2.5, 3.5, 4.5])
    #expect(try evaluate([x]) { $0[0].max(axis: 1) }.values == [3, 6])
    #expect(try evaluate([x]) { $0[0].max(axis: 0) }.values == [4, 5, 6])
  }

  @Test func reductionOverMiddleAxisOfRankThree() throws {
    let y = try evaluate([try counting([2, 2, 2])]) { $0[0].sum(axis: 1) }
    #expect(y.shape == [2, 1, 2])
    #expect(y.values == [2, 4, 10, 12])
    let negative = try evaluate([try tensor([1, 3, 1], [-5, -1, -3])]) { $0[0].max(axis: 1) }
    #expect(negative.values == [-1])
  }

  // MARK: Matrix product

  @Test func matmulOfTwoMatrices() throws {
    let a = try tensor([2, 3], [1, 2, 3, 4, 5, 6])
    let b = try tensor([3, 2], [7, 8, 9, 10, 11, 12])
    let y = try evaluate([a, b]) { $0[0].matmul($0[1]) }
    #expect(y.shape == [2, 2])
    #expect(y.values == [58, 64, 139, 154])
  }

  @Test func matmulBroadcastsBatchDimensionsOfBothOperands() throws {
    // a: two scaled identities [2, 1, 2, 2]; b: three matrices [3, 2, 2]; result [2, 3, 2, 2] = scale_i · b_j.
    let a = try tensor([2, 1, 2, 2], [1, 0, 0, 1, 2, 0, 0, 2])
    let bValues: [Double] = [1, 2, 3, 4, 5, 6, 7, 8, -1, 0.5, 0.25, 3]
    let b = try tensor([3, 2, 2], bValues)
    let y = try evaluate([a, b]) { $0[0].matmul($0[1]) }
    #expect(y.shape == [2, 3, 2, 2])
    #expect(y.values == bValues + bValues.map { 2 * $0 })
  }

  @Test func matmulBroadcastsAMatrixAgainstABatch() throws {
    let a = try tensor([1, 2], [1, -1])
    let b = try tensor([3, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    let y = try evaluate([a, b]) { $0[0].matmul($0[1]) }
    #expect(y.shape == [3, 1, 2])
    #expect(y.values == [-2, -2, -2, -2, -2, -2])
    let right = try evaluate([b, try tensor([2, 1], [1, 10])]) { $0[0].matmul($0[1]) }
    #expect(right.values == [21, 43, 65, 87, 109, 131])
  }

  // MARK: Shape ops

  @Test func reshapeKeepsRowMajorOrder() throws {
    let y = try evaluate([try counting([2, 3])]) { $0[0].reshape([3, 2]) }
    #expect(y.shape == [3, 2])
    #expect(y.values == [0, 1, 2, 3, 4, 5])
  }

  @Test func permuteMovesAxes() throws {
    #expect(try evaluate([try tensor([2, 3], [1, 2, 3, 4, 5, 6])]) { $0[0].permute([1, 0]) }.values == [1, 4, 2, 5, 3, 6])
    // x[i, j, k] = 6i + 2j + k; y[k, i, j] = x[i, j, k].
    let y = try evaluate([try counting([2, 3, 2])]) { $0[0].permute([2, 0, 1]) }
    #expect(y.shape == [2, 2, 3])
    #expect(y.values == [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11])
  }

  @Test func slicesAtBothEndsOfAnAxis() throws {
    let x = try counting([2, 4])
    #expect(try evaluate([x]) { $0[0].slice(axis: -1, 0..<1) }.values == [0, 4])
    #expect(try evaluate([x]) { $0[0].slice(axis: 1, 3..<4) }.values == [3, 7])
    #expect(try evaluate([x]) { $0[0].slice(axis: 1, 1..<3) }.values == [1, 2, 5, 6])
    #expect(try evaluate([x]) { $0[0].slice(axis: 0, 1..<2) }.values == [4, 5, 6, 7])
  }

  @Test func concatOfThreeAlongEachAxis() throws {
    let a = try tensor([2, 1], [1, 2])
    let b = try tensor([2, 2], [3, 4, 5, 6])
    let c = try tensor([2, 1], [7, 8])
    let wide = try evaluate([a, b, c]) { Tensor.concat($0, axis: -1) }
    #expect(wide.shape == [2, 4])
    #expect(wide.values == [1, 3, 4, 7, 2, 5, 6, 8])
    let tall = try evaluate([b, try tensor([1, 2], [9, 10]), b]) { Tensor.concat($0, axis: 0) }
    #expect(tall.shape == [5, 2])
    #expect(tall.values == [3, 4, 5, 6, 9, 10, 3, 4, 5, 6])
  }

  @Test func expandStretchesSizeOneAndAddsLeadingAxes() throws {
    #expect(try evaluate([try tensor([3], [1, 2, 3])]) { $0[0].expand([2, 3]) }.values == [1, 2, 3, 1, 2, 3])
    #expect(try evaluate([try tensor([2, 1], [1, 2])]) { $0[0].expand([2, 3]) }.values == [1, 1, 1, 2, 2, 2])
    #expect(try evaluate([try tensor([1], [7])]) { $0[0].expand([2, 1, 2]) }.values == [7, 7, 7, 7])
  }

  // MARK: Spatial

  @Test func conv2dWithStrideTwoPaddingOneAndTwoGroups() throws {
    // Channel 0: 1…9, channel 1: 10…18, each 3×3. Output channel 0 (group 0) sums its 3×3 window;
    // output channel 1 (group 1) takes 2·centre + top-right, which tells correlation from a flipped kernel.
    let x = try tensor([1, 2, 3, 3], (1...18).map(Double.init))
    var weights = [Double](repeating: 1, count: 9) + [Double](repeating: 0, count: 9)
    weights[9 + 4] = 2
    weights[9 + 2] = 1
    let w = try tensor([2, 1, 3, 3], weights)
    let y = try evaluate([x, w]) { $0[0].conv2d($0[1], stride: 2, padding: 1, groups: 2) }
    #expect(y.shape == [1, 2, 2, 2])
    #expect(y.values == [12, 16, 24, 28, 20, 24, 46, 36])
  }

  @Test func conv2dMixesChannelsWithoutGroups() throws {
    // 1×1 kernel: output channel o = Σ_c w[o, c] · x[c].
    let x = try tensor([1, 2, 1, 2], [1, 2, 3, 4])
    let w = try tensor([3, 2, 1, 1], [1, 0, 0, 1, 1, -1])
    let y = try evaluate([x, w]) { $0[0].conv2d($0[1]) }
    #expect(y.shape == [1, 3, 1, 2])
    #expect(y.values == [1, 2, 3, 4, -2, -2])
  }

  @Test func upsampleNearestRepeatsTheLastTwoAxes() throws {
    let y = try evaluate([try tensor([2, 1, 2], [1, 2, 3, 4])]) { $0[0].upsampleNearest(2) }
    #expect(y.shape == [2, 2, 4])
    #expect(y.values == [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
  }

  @Test func gatherSelectsRows() throws {
    let table = try tensor([3, 2], [1, 2, 3, 4, 5, 6])
    let indices = try tensor([2, 2], [2, 0, 1, 2])
    let y = try evaluate([table, indices], dtypes: [.f32, .i32]) { $0[0].gather($0[1]) }
    #expect(y.shape == [2, 2, 2])
    #expect(y.values == [5, 6, 1, 2, 3, 4, 5, 6])
  }

  @Test func gatherRefusesOutOfRangeAndFractionalIndices() throws {
    let table = try tensor([3, 2], [1, 2, 3, 4, 5, 6])
    for bad in [3.0, -1, 1.5] {
      do {
        _ = try evaluate([table, try tensor([2], [0, bad])], dtypes: [.f32, .i32]) { $0[0].gather($0[1]) }
        Issue.record("index \(bad) was accepted")
      } catch let error as TracerError {
        guard case .invalidOp(let node, _, let message) = error else { Issue.record("unexpected \(error)"); continue }
        #expect(node == 2)
        #expect(message.contains("\(bad)"))
      }
    }
  }

  // MARK: Constants

  @Test func constantsSplatArangeAndDense() throws {
    let graph = try Graph.trace { b in
      b.output("splat", b.constant(.splat(2.5), [2, 2]))
      b.output("arange", b.arange(4, start: 1, step: 0.5))
      b.output("dense", b.constant(.dense([3, 1, 4]), [3]))
      b.output("scalar", b.scalar(-1))
    }
    let outputs = try ReferenceInterpreter.evaluate(graph, inputs: [:], params: [:])
    #expect(outputs["splat"]?.values == [2.5, 2.5, 2.5, 2.5])
    #expect(outputs["arange"]?.values == [1, 1.5, 2, 2.5])
    #expect(outputs["dense"]?.values == [3, 1, 4])
    #expect(outputs["scalar"] == HostTensor(scalar: -1))
  }

  // MARK: Feeds

  @Test func missingInputAndParamAreNamed() throws {
    let graph = try Graph.trace { b in b.output("y", b.input("latent", [2]) * b.param("proj.weight", [2])) }
    let x = try tensor([2], [1, 2])
    #expect(throws: TracerError.missingValue("input 'latent' (node 0, f32[2]) was not supplied")) {
      try ReferenceInterpreter.evaluate(graph, inputs: [:], params: ["proj.weight": x])
    }
    do {
      _ = try ReferenceInterpreter.evaluate(graph, inputs: ["latent": x], params: [:])
      Issue.record("a missing param was accepted")
    } catch {
      #expect(error.description.contains("proj.weight"))
    }
  }

  @Test func wronglyShapedInputIsRefusedNamingBothShapes() throws {
    let graph = try Graph.trace { b in b.output("y", b.input("latent", [2, 3]).exp()) }
    do {
      _ = try ReferenceInterpreter.evaluate(graph, inputs: ["latent": try counting([3, 2])], params: [:])
      Issue.record("a wrongly shaped input was accepted")
    } catch {
      #expect("\(error)".contains("latent"))
      #expect("\(error)".contains("[3, 2]"))
      #expect("\(error)".contains("[2, 3]"))
    }
  }

  @Test func hostTensorRefusesAWrongValueCount() {
    #expect(throws: TracerError.self) { try HostTensor(shape: [2, 2], values: [1, 2, 3]) }
  }

  @Test func evaluateAgreesWithEvaluateAllOnOutputs() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [3, 4])
      let shared = x.exp()
      b.output("a", (shared * shared).sum(axis: -1))
      b.output("b", shared.tanh().permute([1, 0]))
      b.output("x_again", x)
    }
    var rng = SplitMix64(seed: 7)
    let x = randomTensor([3, 4], using: &rng)
    let outputs = try ReferenceInterpreter.evaluate(graph, inputs: ["x": x], params: [:])
    let all = try ReferenceInterpreter.evaluateAll(graph, inputs: ["x": x], params: [:])
    #expect(all.count == graph.nodes.count)
    for output in graph.outputs { #expect(outputs[output.name] == all[output.node], "\(output.name)") }
  }
}
