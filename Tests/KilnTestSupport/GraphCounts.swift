import Tracer

/// Counts a traced graph the way model papers do, so model tests can compare a graph against a
/// published figure or a formula derived independently of the model code.
public enum GraphCounts {
  /// Elements in all parameter leaves.
  public static func parameters(of graph: Graph) -> Int {
    graph.params.reduce(0) { $0 + graph[$1.node].shape.elementCount }
  }

  /// Multiply-accumulates of the matmuls and convolutions: a matmul's output elements times its
  /// inner dimension; a convolution's output elements times in/groups × kh × kw.
  public static func multiplyAccumulates(of graph: Graph) -> Int {
    graph.nodes.reduce(0) { total, node in
      switch node.op {
      case .matmul:
        let left = graph[node.operands[0]].shape
        return total + node.shape.elementCount * left[left.rank - 1]
      case .conv2d:
        let weight = graph[node.operands[1]].shape
        return total + node.shape.elementCount * weight[1] * weight[2] * weight[3]
      default:
        return total
      }
    }
  }

  /// Nodes other than graph inputs whose scope is empty: every computation in a model should say
  /// which module it belongs to.
  public static func unscopedNodes(of graph: Graph) -> [Int] {
    graph.nodes.indices.filter { id in
      if case .input = graph[id].op { return false }
      return graph[id].scope.isEmpty
    }
  }
}
