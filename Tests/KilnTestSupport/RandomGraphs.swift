import Tracer

/// A random graph of primitives, reproducible from `seed`, for testing passes and lowerings
/// against the interpreter. Every value keeps one awkward rank-3 shape [a, b, c] between steps, and
/// the steps are chosen to give every pass work: shape-op chains that cancel or compose, constants
/// on either side of commutative ops, division and subtraction by scalars, recomputed
/// subexpressions, unused branches, broadcasting reductions, matmuls and concats. Values stay in a
/// moderate range (products take one bounded factor), so outputs are finite for any feed
/// drawn by `randomTensor`.
public func randomGraph(seed: UInt64, steps: Int = 24) throws -> Graph {
  var rng = SplitMix64(seed: seed)
  let (a, b, c) = (randomAwkwardSize(upTo: 5, using: &rng), randomAwkwardSize(upTo: 7, using: &rng),
                   randomAwkwardSize(upTo: 11, using: &rng))
  return try Graph.trace { builder in
    var pool = [builder.input("x", [a, b, c]), builder.param("w", [a, b, c]), builder.input("y", [b, c])
      .expand([a, b, c])]
    _ = builder.param("unused.weight", [c])
    for _ in 0..<steps {
      let x = pool.randomElement(using: &rng) ?? pool[0]
      let y = pool.randomElement(using: &rng) ?? pool[0]
      pool.append(randomStep(x, y, (a, b, c), builder, &rng))
    }
    builder.output("last", pool[pool.count - 1])
    builder.output("other", pool[Int.random(in: 3..<pool.count, using: &rng)])
  }
}

private func randomStep(_ x: Tensor, _ y: Tensor, _ sizes: (Int, Int, Int), _ builder: GraphBuilder,
                        _ rng: inout SplitMix64) -> Tensor {
  let (a, b, c) = sizes
  let constant = Double(Int.random(in: 1...9, using: &rng)) / 4 * (Bool.random(using: &rng) ? 1 : -1)
  switch Int.random(in: 0..<20, using: &rng) {
  case 0: return x.unary([UnaryOp.neg, .tanh, .sin, .cos, .sigmoid, .erf].randomElement(using: &rng) ?? .neg)
  case 1: return x.tanh().exp()
  case 2: return (x.sigmoid() + 0.5).unary([UnaryOp.sqrt, .rsqrt, .log, .reciprocal].randomElement(using: &rng) ?? .sqrt)
  case 3: return x.binary([BinaryOp.add, .sub, .mul, .max, .min].randomElement(using: &rng) ?? .add, y.tanh())
  case 4: return x / (y.tanh() + 2)
  case 5: return x / constant
  case 6: return x - constant
  case 7: return constant * x
  case 8: return constant + x
  case 9: return x.reshape([a * b, c]).reshape([a, b * c]).reshape([a, b, c])
  case 10: return x.permute([1, 0, 2]).permute([0, 2, 1]).permute([2, 0, 1])
  case 11: return x.transposed(0, 1).transposed(0, 1) * y.tanh()
  case 12: return x.slice(axis: -2, 0..<b).expand([a, b, c]) + x.sum(axis: 1)
  case 13: return x - x.max(axis: -1) + x.mean(axis: 0).expand([a, b, c])
  case 14: return (x.matmul(y.transposed()) * 0.25).tanh().matmul(x).tanh()
  case 15:
    guard c > 1 else { return x.sin() * x.sin() }
    let split = Int.random(in: 1..<c, using: &rng)
    return Tensor.concat([x.slice(axis: 2, split..<c), x.slice(axis: 2, 0..<split)], axis: -1)
  case 16: return x.exp().tanh() + x.exp().tanh()
  case 17:
    _ = x.cos().matmul(y.transposed())
    return x.tanh().pow(2) * builder.scalar(0.5)
  case 18: return builder.constant(.arange(start: -1, step: 0.5 / Double(c)), [c]) * x
  default: return x.reshape([a * b * c]).reshape([a, b, c]).maximum(builder.constant(.splat(constant), [1, 1, c]))
  }
}
