import Tracer

/// Finds softmax and attention on primitives, in every equivalent form Kiln accepts: the scale on
/// the scores, on Q or on K, as a product or a division; softmax with or without the max
/// subtraction, its division written as `e / Σe` or `e · (1/Σe)`; Kᵀ as a permute of K or K stored
/// transposed; an optional additive mask.
enum AttentionMatcher {
  /// A softmax ending at `output`: `exp(x [- max(x)]) / sum(…)` along one axis.
  static func softmax(endingAt output: Int, _ facts: GraphFacts) -> SoftmaxMatch? {
    let node = facts[output]
    guard case .binary(let op) = node.op else { return nil }
    var region: Set<Int> = [output]
    let exponentials: Int
    let sum: Int
    switch op {
    case .div:
      (exponentials, sum) = (node.operands[0], node.operands[1])
    case .mul:
      guard let pair = node.operands.lazy.compactMap({ candidate -> (Int, Int)? in
        guard let denominator = reciprocalOperand(candidate, facts), let other = facts.other(than: candidate, in: node)
        else { return nil }
        return (other, denominator)
      }).first else { return nil }
      region.insert(facts.other(than: pair.0, in: node) ?? pair.0)
      (exponentials, sum) = pair
    default:
      return nil
    }
    guard case .unary(.exp) = facts[exponentials].op, facts[exponentials].shape == node.shape,
          let reduction = facts.resolvedReduceAxis(sum), reduction.op == .sum, reduction.input == exponentials
    else { return nil }
    region.formUnion([exponentials, sum])

    var input = facts[exponentials].operands[0]
    var subtractsMax = false
    if case .binary(.sub) = facts[input].op {
      let (centered, maximum) = (facts[input].operands[0], facts[input].operands[1])
      if let stabilizer = facts.resolvedReduceAxis(maximum), stabilizer.op == .max,
         stabilizer.input == centered, stabilizer.axis == reduction.axis {
        region.formUnion([input, maximum])
        input = centered
        subtractsMax = true
      }
    }
    guard facts[input].shape == node.shape, facts.isClosed(region, output: output) else { return nil }
    return SoftmaxMatch(nodes: region.sorted(), output: output, input: input, axis: reduction.axis,
                        subtractsMax: subtractsMax)
  }

  /// `s` when `id` is `reciprocal(s)` or `1 / s`.
  private static func reciprocalOperand(_ id: Int, _ facts: GraphFacts) -> Int? {
    let node = facts[id]
    switch node.op {
    case .unary(.reciprocal): return node.operands[0]
    case .binary(.div) where facts.scalarValue(node.operands[0]) == 1: return node.operands[1]
    default: return nil
    }
  }

  /// Attention whose `P·V` product is the matmul `output`.
  static func attention(endingAt output: Int, _ facts: GraphFacts) -> AttentionMatch? {
    let product = facts[output]
    guard case .matmul = product.op else { return nil }
    let (probabilities, v) = (product.operands[0], product.operands[1])
    guard let softmax = softmax(endingAt: probabilities, facts),
          softmax.axis == facts[probabilities].shape.rank - 1 else { return nil }
    var region = Set(softmax.nodes).union([output])

    guard let logits = scoresChain(from: softmax.input, facts) else { return nil }
    region.formUnion(logits.nodes)
    region.insert(logits.scores)
    var scale = logits.scale
    let scores = logits.scores

    let queryOperand = stripScalarScale(facts[scores].operands[0], consumer: scores, facts)
    scale *= queryOperand.scale
    region.formUnion(queryOperand.nodes)
    let q = queryOperand.root

    let transposedKey = stripScalarScale(facts[scores].operands[1], consumer: scores, facts)
    scale *= transposedKey.scale
    region.formUnion(transposedKey.nodes)
    var k = transposedKey.root
    var keyLayout = KeyLayout.transposedStored
    let keyConsumer = transposedKey.nodes.min() ?? scores
    if swapsLastTwoAxes(k, facts), facts.feedsOnly(k, into: keyConsumer) {
      region.insert(k)
      let key = stripScalarScale(facts[k].operands[0], consumer: k, facts)
      scale *= key.scale
      region.formUnion(key.nodes)
      k = key.root
      keyLayout = .rowMajor
    }

    let scoreShape = facts[scores].shape.dims
    let rank = scoreShape.count
    guard rank >= 2 else { return nil }
    let batch = Array(scoreShape.dropLast(2))
    let (s, l) = (scoreShape[rank - 2], scoreShape[rank - 1])
    let (qShape, kShape, vShape) = (facts[q].shape.dims, facts[k].shape.dims, facts[v].shape.dims)
    guard qShape.count == rank, kShape.count == rank, vShape.count == rank,
          Array(qShape.dropLast(2)) == batch, Array(kShape.dropLast(2)) == batch, Array(vShape.dropLast(2)) == batch,
          qShape[rank - 2] == s, vShape[rank - 2] == l
    else { return nil }
    let d = qShape[rank - 1]
    let keyMatches = keyLayout == .rowMajor ? (kShape[rank - 2] == l && kShape[rank - 1] == d)
                                            : (kShape[rank - 2] == d && kShape[rank - 1] == l)
    guard keyMatches, facts.isClosed(region, output: output) else { return nil }
    return AttentionMatch(nodes: region.sorted(), output: output, q: q, k: k, keyLayout: keyLayout, v: v,
                          mask: logits.mask, scale: scale, batchShape: batch, queryLength: s, keyLength: l,
                          headDim: d, valueDim: vShape[rank - 1], softmaxSubtractsMax: softmax.subtractsMax)
  }

  /// The scores `Q·Kᵀ` under the softmax input: scalar scales (products or divisions) below an
  /// optional additive mask. A scale above the mask would scale the mask too; that is not
  /// attention as the kernel computes it, so it is refused.
  private static func scoresChain(from logits: Int, _ facts: GraphFacts)
    -> (scores: Int, scale: Double, mask: Int?, nodes: Set<Int>)? {
    var current = logits
    var nodes: Set<Int> = []
    var mask: Int?
    if case .binary(.add) = facts[current].op {
      let node = facts[current]
      let resultShape = node.shape
      for (side, other) in [(node.operands[0], node.operands[1]), (node.operands[1], node.operands[0])] {
        let stripped = stripScalarScale(side, consumer: current, facts)
        guard case .matmul = facts[stripped.root].op, facts[side].shape == resultShape,
              (try? ShapeInference.broadcast(facts[other].shape, resultShape)) == resultShape
        else { continue }
        nodes.insert(current)
        mask = other
        current = side
        break
      }
      guard mask != nil else { return nil }
    }
    let scaled = stripScalarScale(current, consumer: nil, facts)
    guard case .matmul = facts[scaled.root].op else { return nil }
    return (scaled.root, scaled.scale, mask, nodes.union(scaled.nodes))
  }

  /// Walks down `x · c`, `c · x` and `x / c` with scalar constants `c` from `start`, while each
  /// stripped node feeds only the node above it (`consumer` for `start`; with no consumer, the
  /// caller's closed-region check vouches for `start`'s readers). Returns the value under the
  /// scales, their product, and the stripped nodes.
  static func stripScalarScale(_ start: Int, consumer: Int?, _ facts: GraphFacts)
    -> (root: Int, scale: Double, nodes: Set<Int>) {
    var current = start
    var above = consumer
    var scale = 1.0
    var nodes: Set<Int> = []
    while case .binary(let op) = facts[current].op {
      if let above, !facts.feedsOnly(current, into: above) { break }
      let (a, b) = (facts[current].operands[0], facts[current].operands[1])
      let factor: Double
      let next: Int
      switch op {
      case .mul:
        if let c = facts.scalarValue(b), facts.scalarValue(a) == nil { (factor, next) = (c, a) }
        else if let c = facts.scalarValue(a), facts.scalarValue(b) == nil { (factor, next) = (c, b) }
        else { return (current, scale, nodes) }
      case .div:
        guard let c = facts.scalarValue(b), c != 0, facts.scalarValue(a) == nil else { return (current, scale, nodes) }
        (factor, next) = (1 / c, a)
      default:
        return (current, scale, nodes)
      }
      guard facts[next].shape == facts[current].shape else { return (current, scale, nodes) }
      scale *= factor
      nodes.insert(current)
      above = current
      current = next
    }
    return (current, scale, nodes)
  }

  /// A permute that swaps the two last axes and leaves the others in place.
  static func swapsLastTwoAxes(_ id: Int, _ facts: GraphFacts) -> Bool {
    guard case .permute(let order) = facts[id].op, order.count >= 2 else { return false }
    var expected = Array(0..<order.count)
    expected.swapAt(order.count - 2, order.count - 1)
    return order == expected
  }
}
