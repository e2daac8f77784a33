import Tracer

/// Finds layer, RMS and group norms, their affine and their adaLN modulation. The core is
/// `t · rsqrt(mean(t²) + eps)` (or `t / sqrt(…)`, `t · 1/sqrt(…)`) over the last axis; `t` centred
/// by its own mean makes it a layer norm, `t` itself the input an RMS norm; a reshape to
/// [N, G, …] before and back after makes it a group norm.
enum NormalizationMatcher {
  static func normalization(at core: Int, _ facts: GraphFacts, claimed: Set<Int>) -> NormalizationMatch? {
    guard let statistics = coreStatistics(core, facts) else { return nil }
    var region = statistics.nodes
    var kind = NormalizationKind.rmsNorm
    var input = statistics.normalized
    if case .binary(.sub) = facts[input].op,
       let meanInput = facts.reducesLastAxis(facts[input].operands[1], .mean),
       meanInput == facts[input].operands[0] {
      region.formUnion([input, facts[input].operands[1]])
      input = meanInput
      kind = .layerNorm
    }
    let rowLength = facts[input].shape.dims.last ?? 1
    var groups = 1
    var output = core
    var featureAxis = facts[core].shape.rank - 1
    if kind == .layerNorm, let grouped = groupNormReshapes(input: input, output: core, facts) {
      region.insert(grouped.restore)
      if facts.users[input].allSatisfy(region.contains) { region.insert(input) }
      (input, output, groups, featureAxis) = (grouped.original, grouped.restore, grouped.groups, 1)
      kind = .groupNorm
    }
    guard facts.isClosed(region, output: output), region.isDisjoint(with: claimed) else { return nil }

    var match = NormalizationMatch(nodes: [], output: output, kind: kind, input: input, eps: statistics.eps,
                                   groups: groups, rowLength: rowLength)
    let features = facts[output].shape.dims[featureAxis]
    if let step = readerOp(of: output, .mul, facts, claimed), isPerFeature(step.other, axis: featureAxis, features, output, facts),
       !isOnePlus(step.other, facts) {
      (match.weight, output) = (step.other, step.user)
      region.insert(step.user)
    }
    if let step = readerOp(of: output, .add, facts, claimed), isPerFeature(step.other, axis: featureAxis, features, output, facts) {
      (match.bias, output) = (step.other, step.user)
      region.insert(step.user)
    }
    if let step = readerOp(of: output, .mul, facts, claimed), let scale = onePlusOperand(step.other, facts),
       facts.feedsOnly(step.other, into: step.user), !claimed.contains(step.other),
       broadcastsSmaller(scale, into: output, facts) {
      (match.modulationScale, output) = (scale, step.user)
      region.formUnion([step.user, step.other])
      if let shift = readerOp(of: output, .add, facts, claimed), broadcastsSmaller(shift.other, into: output, facts) {
        (match.modulationShift, output) = (shift.other, shift.user)
        region.insert(shift.user)
      }
    }
    match.nodes = region.sorted()
    match.output = output
    return match
  }

  /// `t · rsqrt(mean(t²) + eps)` and its spellings, ending at `core`.
  private static func coreStatistics(_ core: Int, _ facts: GraphFacts)
    -> (normalized: Int, eps: Double, nodes: Set<Int>)? {
    let node = facts[core]
    guard case .binary(let op) = node.op else { return nil }
    let candidates: [(t: Int, factor: Int)]
    switch op {
    case .mul: candidates = [(node.operands[0], node.operands[1]), (node.operands[1], node.operands[0])]
    case .div: candidates = [(node.operands[0], node.operands[1])]
    default: return nil
    }
    for (t, factor) in candidates where facts[t].shape == node.shape {
      var nodes: Set<Int> = [core, factor]
      let shifted: Int
      switch (op, facts[factor].op) {
      case (.mul, .unary(.rsqrt)), (.div, .unary(.sqrt)):
        shifted = facts[factor].operands[0]
      case (.mul, .unary(.reciprocal)):
        let root = facts[factor].operands[0]
        guard case .unary(.sqrt) = facts[root].op else { continue }
        nodes.insert(root)
        shifted = facts[root].operands[0]
      default:
        continue
      }
      guard case .binary(.add) = facts[shifted].op else { continue }
      let (x, y) = (facts[shifted].operands[0], facts[shifted].operands[1])
      guard let (variance, eps) = facts.scalarValue(y).map({ (x, $0) }) ?? facts.scalarValue(x).map({ (y, $0) }),
            let squared = facts.reducesLastAxis(variance, .mean), isSquare(squared, of: t, facts)
      else { continue }
      nodes.formUnion([shifted, variance, squared])
      return (t, eps, nodes)
    }
    return nil
  }

  private static func isSquare(_ id: Int, of t: Int, _ facts: GraphFacts) -> Bool {
    let node = facts[id]
    switch node.op {
    case .binary(.mul): return node.operands == [t, t]
    case .binary(.pow): return node.operands[0] == t && facts.scalarValue(node.operands[1]) == 2
    default: return false
    }
  }

  /// `input` = reshape(X) with X [N, C, …] and input [N, G, C/G·…], and `output` read only by a
  /// reshape back to X's shape.
  private static func groupNormReshapes(input: Int, output: Int, _ facts: GraphFacts)
    -> (original: Int, restore: Int, groups: Int)? {
    guard case .reshape = facts[input].op else { return nil }
    let original = facts[input].operands[0]
    let full = facts[original].shape.dims
    let grouped = facts[input].shape.dims
    guard full.count >= 3, grouped.count == 3, grouped[0] == full[0], full[1] % grouped[1] == 0,
          facts.distinctUsers(output).count == 1, let restore = facts.users[output].first,
          !facts.outputNodes.contains(output), case .reshape = facts[restore].op,
          facts[restore].shape.dims == full
    else { return nil }
    return (original, restore, grouped[1])
  }

  private static func readerOp(of id: Int, _ op: BinaryOp, _ facts: GraphFacts, _ claimed: Set<Int>)
    -> (user: Int, other: Int)? {
    let users = facts.distinctUsers(id)
    guard !facts.outputNodes.contains(id), users.count == 1, let user = users.first, !claimed.contains(user),
          facts[user].op == .binary(op), facts[user].shape == facts[id].shape,
          let other = facts.other(than: id, in: facts[user]), other != id
    else { return nil }
    return (user, other)
  }

  /// One value per feature along `axis` (the channel axis for group norm, the last otherwise).
  private static func isPerFeature(_ id: Int, axis: Int, _ features: Int, _ target: Int, _ facts: GraphFacts) -> Bool {
    let dims = facts[id].shape.dims
    let rank = facts[target].shape.rank
    guard dims.count <= rank, facts[id].shape.elementCount == features else { return false }
    let offset = rank - dims.count
    return dims.indices.allSatisfy { dims[$0] == 1 || $0 + offset == axis }
  }

  private static func broadcastsSmaller(_ id: Int, into target: Int, _ facts: GraphFacts) -> Bool {
    let shape = facts[target].shape
    return facts[id].shape.elementCount < shape.elementCount
      && (try? ShapeInference.broadcast(facts[id].shape, shape)) == shape
  }

  private static func isOnePlus(_ id: Int, _ facts: GraphFacts) -> Bool { onePlusOperand(id, facts) != nil }

  /// `s` when `id` is `1 + s` or `s + 1`.
  private static func onePlusOperand(_ id: Int, _ facts: GraphFacts) -> Int? {
    guard case .binary(.add) = facts[id].op else { return nil }
    let (a, b) = (facts[id].operands[0], facts[id].operands[1])
    if facts.scalarValue(a) == 1, facts.scalarValue(b) == nil { return b }
    if facts.scalarValue(b) == 1, facts.scalarValue(a) == nil { return a }
    return nil
  }
}
