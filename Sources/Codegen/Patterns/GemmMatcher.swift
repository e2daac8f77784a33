import Foundation
import Tracer

/// Finds matmuls and the epilogue a GEMM kernel can apply to each tile before storing it.
enum GemmMatcher {
  static func gemm(at matmul: Int, _ facts: GraphFacts, claimed: Set<Int>) -> GemmMatch? {
    let node = facts[matmul]
    guard case .matmul = node.op else { return nil }
    var region: Set<Int> = [matmul]
    let a = node.operands[0]
    var b = node.operands[1]
    var bTransposed = false
    if AttentionMatcher.swapsLastTwoAxes(b, facts), facts.feedsOnly(b, into: matmul), !claimed.contains(b) {
      region.insert(b)
      b = facts[b].operands[0]
      bTransposed = true
    }
    let bIsWeight = isWeight(b, facts) && facts[b].shape.rank == 2
    let out = node.shape.dims
    guard out.count >= 2 else { return nil }
    let (n, k) = (out[out.count - 1], facts[a].shape.dims.last ?? 1)
    let m = bIsWeight ? out.dropLast().reduce(1, *) : out[out.count - 2]
    let batch = bIsWeight ? [] : Array(out.dropLast(2))

    var epilogue: [Epilogue] = []
    var current = matmul
    while let step = nextEpilogue(after: current, n: n, facts, claimed: claimed) {
      epilogue.append(step.epilogue)
      region.formUnion(step.nodes)
      current = step.output
    }
    return GemmMatch(nodes: region.sorted(), output: current, matmul: matmul, a: a, b: b, bTransposed: bTransposed,
                     bIsWeight: bIsWeight, m: m, n: n, k: k, batchShape: batch, epilogue: epilogue)
  }

  static func isWeight(_ id: Int, _ facts: GraphFacts) -> Bool {
    switch facts[id].op {
    case .param, .constant: return true
    default: return false
    }
  }

  /// The epilogue op reading `current`, when `current` has no reader but it (so fusing hides no
  /// value anyone else needs).
  private static func nextEpilogue(after current: Int, n: Int, _ facts: GraphFacts, claimed: Set<Int>)
    -> (epilogue: Epilogue, nodes: Set<Int>, output: Int)? {
    guard !facts.outputNodes.contains(current), !facts.users[current].isEmpty else { return nil }
    if let activation = ActivationMatcher.activation(of: current, facts), activation.nodes.isDisjoint(with: claimed) {
      return (.activation(activation.kind), activation.nodes, activation.output)
    }
    let users = facts.distinctUsers(current)
    guard users.count == 1, let user = users.first, !claimed.contains(user),
          case .binary(let op) = facts[user].op, let other = facts.other(than: current, in: facts[user]),
          other != current, facts[user].shape == facts[current].shape
    else { return nil }
    let shape = facts[current].shape.dims
    let otherShape = facts[other].shape.dims
    switch op {
    case .add:
      if otherShape == shape { return (.residual(other), [user], user) }
      if isColumnVector(otherShape, n: n) { return (.bias(other), [user], user) }
    case .mul:
      if let factor = facts.scalarValue(other) { return (.scale(factor), [user], user) }
      if isRowBroadcast(otherShape, of: shape) { return (.gate(other), [user], user) }
    case .div:
      if facts[user].operands[0] == current, let divisor = facts.scalarValue(other), divisor != 0 {
        return (.scale(1 / divisor), [user], user)
      }
    default:
      break
    }
    return nil
  }

  /// [N] or [1, …, 1, N].
  static func isColumnVector(_ dims: [Int], n: Int) -> Bool {
    dims.last == n && dims.dropLast().allSatisfy { $0 == 1 }
  }

  /// A tensor of `shape`'s rank (or less) with size 1 on the row axis and the full column axis:
  /// one value per (batch, column), broadcast over the rows.
  static func isRowBroadcast(_ dims: [Int], of shape: [Int]) -> Bool {
    guard shape.count >= 2, dims.count >= 2, dims.count <= shape.count, dims.last == shape.last,
          dims[dims.count - 2] == 1, shape[shape.count - 2] > 1 else { return false }
    let offset = shape.count - dims.count
    return dims.indices.dropLast(2).allSatisfy { dims[$0] == 1 || dims[$0] == shape[$0 + offset] }
  }
}

/// Recognizes pointwise activation functions of one value by evaluating the candidate subgraph
/// at sample points: any arrangement of primitives that computes GELU or SiLU is found.
enum ActivationMatcher {
  private static let samples: [Double] = [-3.7, -1.9, -0.8, -0.25, 0.3, 0.9, 1.6, 4.1]
  private static let maxRegionSize = 48

  static func reference(_ activation: Activation, _ x: Double) -> Double {
    switch activation {
    case .geluTanh: return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
    case .geluErf: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
    case .silu: return x / (1 + exp(-x))
    }
  }

  /// The largest closed pointwise function of `x` alone (constants aside) that is a known
  /// activation, when every reader of `x` lies inside it.
  static func activation(of x: Int, _ facts: GraphFacts) -> (kind: Activation, nodes: Set<Int>, output: Int)? {
    let region = pointwiseClosure(of: x, facts)
    guard !region.isEmpty else { return nil }
    for candidate in region.sorted(by: >) {
      let ancestors = ancestorsWithin(region, of: candidate, facts)
      guard facts.users[x].allSatisfy(ancestors.contains), facts.isClosed(ancestors, output: candidate),
            let kind = identify(ancestors, input: x, output: candidate, facts) else { continue }
      return (kind, ancestors, candidate)
    }
    return nil
  }

  /// Pointwise nodes of `x`'s shape computed from `x`, each other and scalar constants only.
  private static func pointwiseClosure(of x: Int, _ facts: GraphFacts) -> Set<Int> {
    let shape = facts[x].shape
    var region: Set<Int> = []
    var frontier = Set(facts.users[x])
    while let id = frontier.min(), region.count < maxRegionSize {
      frontier.remove(id)
      let node = facts[id]
      switch node.op {
      case .unary, .binary: break
      default: continue
      }
      guard node.shape == shape,
            node.operands.allSatisfy({ $0 == x || region.contains($0) || facts.scalarValue($0) != nil })
      else { continue }
      region.insert(id)
      frontier.formUnion(facts.users[id])
    }
    return region
  }

  private static func ancestorsWithin(_ region: Set<Int>, of output: Int, _ facts: GraphFacts) -> Set<Int> {
    var ancestors: Set<Int> = [output]
    var stack = [output]
    while let id = stack.popLast() {
      for operand in facts[id].operands where region.contains(operand) && !ancestors.contains(operand) {
        ancestors.insert(operand)
        stack.append(operand)
      }
    }
    return ancestors
  }

  private static func identify(_ nodes: Set<Int>, input: Int, output: Int, _ facts: GraphFacts) -> Activation? {
    let order = nodes.sorted()
    var values: [[Double]] = []
    for sample in samples {
      var known: [Int: Double] = [input: sample]
      for id in order {
        let node = facts[id]
        let operands = node.operands.map { known[$0] ?? facts.scalarValue($0) }
        let value: Double?
        switch node.op {
        case .unary(let op): value = operands[0].flatMap { ScalarEvaluator.apply(op, $0) }
        case .binary(let op):
          guard let a = operands[0], let b = operands[1] else { return nil }
          value = ScalarEvaluator.apply(op, a, b)
        default: value = nil
        }
        guard let value else { return nil }
        known[id] = value
      }
      guard let result = known[output] else { return nil }
      values.append([result])
    }
    return Activation.allCases.first { activation in
      zip(samples, values).allSatisfy { sample, value in
        let expected = reference(activation, sample)
        return abs(value[0] - expected) <= 1e-9 * max(1, abs(expected))
      }
    }
  }
}
