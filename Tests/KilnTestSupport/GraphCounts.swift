import Tracer

/// Structural queries model tests make about a traced graph.
public enum GraphCounts {
  /// Nodes other than graph inputs whose scope is empty: every computation in a model should say
  /// which module it belongs to.
  public static func unscopedNodes(of graph: Graph) -> [Int] {
    graph.nodes.indices.filter { id in
      if case .input = graph[id].op { return false }
      return graph[id].scope.isEmpty
    }
  }
}
