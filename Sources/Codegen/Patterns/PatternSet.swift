import Tracer

/// The partition of a graph into pattern matches, found in priority order (attention,
/// normalization + modulation, GEMM + epilogue, standalone softmax, pointwise regions) so that
/// each node belongs to at most one match. Non-leaf nodes in no match stay single ops.
public struct PatternSet: Hashable, Sendable {
  /// Every match, ordered by output node.
  public var matches: [PatternMatch]
  /// For each node, the index in `matches` of the match covering it.
  public var matchOfNode: [Int: Int]
  /// Non-leaf nodes no match covers, increasing ids.
  public var singleOps: [Int]

  /// Runs every matcher over `graph`, which must satisfy `Graph.verify()` (matchers rely on the
  /// arity and shape rules it checks).
  public init(discoveringIn graph: Graph) {
    let facts = GraphFacts(graph)
    var claimed = Set<Int>()
    var found: [PatternMatch] = []
    func claim(_ match: PatternMatch) {
      found.append(match)
      claimed.formUnion(match.nodes)
    }
    let ids = graph.nodes.indices
    for id in ids where !claimed.contains(id) {
      if let match = AttentionMatcher.attention(endingAt: id, facts), Set(match.nodes).isDisjoint(with: claimed) {
        claim(.attention(match))
      }
    }
    for id in ids where !claimed.contains(id) {
      if let match = NormalizationMatcher.normalization(at: id, facts, claimed: claimed),
         Set(match.nodes).isDisjoint(with: claimed) {
        claim(.normalization(match))
      }
    }
    for id in ids where !claimed.contains(id) {
      if let match = GemmMatcher.gemm(at: id, facts, claimed: claimed), Set(match.nodes).isDisjoint(with: claimed) {
        claim(.gemm(match))
      }
    }
    for id in ids where !claimed.contains(id) {
      if let match = AttentionMatcher.softmax(endingAt: id, facts), Set(match.nodes).isDisjoint(with: claimed) {
        claim(.softmax(match))
      }
    }
    for match in PointwiseMatcher.regions(facts, claimed: claimed) { claim(.pointwise(match)) }

    matches = found.sorted { $0.output < $1.output }
    var matchOfNode: [Int: Int] = [:]
    for (index, match) in matches.enumerated() {
      for node in match.nodes { matchOfNode[node] = index }
    }
    self.matchOfNode = matchOfNode
    singleOps = ids.filter { !graph.nodes[$0].op.isLeaf && matchOfNode[$0] == nil }
  }

  /// Number of matches of each kind.
  public var counts: [PatternKind: Int] {
    matches.reduce(into: [:]) { $0[$1.kind, default: 0] += 1 }
  }

  /// `counts` keyed by the kind's name, as reports print it (`"attention": 28`).
  public var patterns: [String: Int] {
    Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
  }

  public var attentions: [AttentionMatch] {
    matches.compactMap { if case .attention(let match) = $0 { return match } else { return nil } }
  }

  public var normalizations: [NormalizationMatch] {
    matches.compactMap { if case .normalization(let match) = $0 { return match } else { return nil } }
  }

  /// GEMM matches of both kinds (weight and activation right operands).
  public var gemms: [GemmMatch] {
    matches.compactMap { if case .gemm(let match) = $0 { return match } else { return nil } }
  }

  public var softmaxes: [SoftmaxMatch] {
    matches.compactMap { if case .softmax(let match) = $0 { return match } else { return nil } }
  }

  public var pointwiseRegions: [PointwiseMatch] {
    matches.compactMap { if case .pointwise(let match) = $0 { return match } else { return nil } }
  }
}
