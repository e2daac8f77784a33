import Tracer

/// Everything a graph reads: its inputs and params by name.
public struct Feeds: Sendable {
  public var inputs: [String: HostTensor]
  public var params: [String: HostTensor]

  public init(inputs: [String: HostTensor] = [:], params: [String: HostTensor] = [:]) {
    self.inputs = inputs
    self.params = params
  }
}

/// Random inputs and params for any graph, reproducible from `seed`: floating-point leaves from
/// `randomTensor`; i32 inputs that reach a gather (through shape ops) get valid row indices of the
/// smallest such table, other i32 inputs get 0 or 1.
public func randomFeeds(for graph: Graph, seed: UInt64) -> Feeds {
  var rng = SplitMix64(seed: seed)
  let rowBound = gatherRowBounds(graph)
  var feeds = Feeds()
  for (id, node) in graph.nodes.enumerated() {
    switch node.op {
    case .input(let name) where feeds.inputs[name] == nil:
      feeds.inputs[name] = node.dtype == .i32
        ? randomIndices(node.shape, below: rowBound[id] ?? 2, using: &rng)
        : randomTensor(node.shape, using: &rng)
    case .param(let name) where feeds.params[name] == nil:
      feeds.params[name] = node.dtype == .i32
        ? randomIndices(node.shape, below: rowBound[id] ?? 2, using: &rng)
        : randomTensor(node.shape, using: &rng)
    default:
      break
    }
  }
  return feeds
}

/// For each node whose values end up as gather indices, the fewest rows among those tables.
private func gatherRowBounds(_ graph: Graph) -> [Int: Int] {
  var bound: [Int: Int] = [:]
  // Walk backwards: a node's bound is the smallest bound of the index paths that read it.
  for id in graph.nodes.indices.reversed() {
    let node = graph.nodes[id]
    switch node.op {
    case .gather:
      let rows = graph.nodes[node.operands[0]].shape[0]
      bound[node.operands[1]] = min(bound[node.operands[1]] ?? rows, rows)
    case .reshape, .permute, .slice, .concat, .expand:
      guard let own = bound[id] else { continue }
      for operand in node.operands { bound[operand] = min(bound[operand] ?? own, own) }
    default:
      continue
    }
  }
  return bound
}
