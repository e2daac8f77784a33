import Tracer

/// The attentions in `graph`, found from primitives alone: each is a `matmul` whose left operand is
/// a softmax (`exp(s − max(s)) / sum(exp(s − max(s)))`) of scores that come from another `matmul`
/// through pointwise ops only (a scale, a mask). Returns those output matmuls' ids; no scope or
/// name is read.
public func attentionOutputs(in graph: Graph) -> [Int] {
  graph.nodes.indices.filter { id in
    let node = graph[id]
    return node.op == .matmul
      && softmaxInput(of: node.operands[0], in: graph).map { scoresComeFromMatmul($0, in: graph) } == true
  }
}

/// The scores `s` when `id` is `exp(s − max(s)) / sum(exp(s − max(s)))` over one axis; nil otherwise.
public func softmaxInput(of id: Int, in graph: Graph) -> Int? {
  let quotient = graph[id]
  guard quotient.op == .binary(.div) else { return nil }
  let (exponentials, total) = (quotient.operands[0], quotient.operands[1])
  guard case .reduce(.sum, let sumAxis) = graph[total].op, graph[total].operands == [exponentials],
        graph[exponentials].op == .unary(.exp) else { return nil }
  let shifted = graph[graph[exponentials].operands[0]]
  guard shifted.op == .binary(.sub) else { return nil }
  let (scores, maximum) = (shifted.operands[0], shifted.operands[1])
  guard case .reduce(.max, let maxAxis) = graph[maximum].op, graph[maximum].operands == [scores],
        sumAxis == maxAxis else { return nil }
  return scores
}

private func scoresComeFromMatmul(_ id: Int, in graph: Graph) -> Bool {
  var frontier = [id]
  var seen = Set<Int>()
  while let current = frontier.popLast() {
    guard seen.insert(current).inserted else { continue }
    let node = graph[current]
    switch node.op {
    case .matmul: return true
    case .binary: frontier.append(contentsOf: node.operands)
    default: continue
    }
  }
  return false
}
