extension Graph {
  /// The standard pass pipeline: verify, then canonicalize and merge common subexpressions until
  /// neither changes the graph (a rewrite can expose a merge and a merge a rewrite; bounded, since
  /// each round only shrinks or re-spells the graph), then drop dead code.
  public func optimized() throws(TracerError) -> Graph {
    try verify()
    var current = self
    for _ in 0..<Self.maxOptimizationRounds {
      let next = current.canonicalized().eliminatingCommonSubexpressions()
      if next == current { break }
      current = next
    }
    return current.eliminatingDeadCode()
  }

  static let maxOptimizationRounds = 8
}
