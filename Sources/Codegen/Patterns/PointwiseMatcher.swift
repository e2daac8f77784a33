import Tracer

/// Groups pointwise ops and last-axis reductions into regions with a single output, each
/// computable as one loop nest over the broadcast of its nodes' shapes.
enum PointwiseMatcher {
  static func regions(_ facts: GraphFacts, claimed: Set<Int>) -> [PointwiseMatch] {
    var assigned = claimed
    var matches: [PointwiseMatch] = []
    for output in facts.graph.nodes.indices.reversed() where !assigned.contains(output) && isFusible(output, facts) {
      var domain = facts[output].shape
      var region: Set<Int> = [output]
      var pending = Set(facts[output].operands)
      while let candidate = pending.max() {
        pending.remove(candidate)
        guard !assigned.contains(candidate), !region.contains(candidate), isFusible(candidate, facts),
              !facts.outputNodes.contains(candidate), facts.users[candidate].allSatisfy(region.contains),
              let widened = try? ShapeInference.broadcast(domain, facts[candidate].shape)
        else { continue }
        domain = widened
        region.insert(candidate)
        pending.formUnion(facts[candidate].operands)
      }
      assigned.formUnion(region)
      guard region.count >= 2 else { continue }
      matches.append(PointwiseMatch(nodes: region.sorted(), output: output, operands: facts.externalOperands(of: region)))
    }
    return matches.reversed()
  }

  static func isFusible(_ id: Int, _ facts: GraphFacts) -> Bool {
    switch facts[id].op {
    case .unary, .binary:
      return true
    case .reduce:
      guard let reduction = facts.resolvedReduceAxis(id) else { return false }
      return reduction.axis == facts[reduction.input].shape.rank - 1
    default:
      return false
    }
  }
}
