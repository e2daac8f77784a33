/// What a graph costs: parameters, multiply-accumulates, FLOPs and bytes, the figures `kiln show`
/// prints and the reports build on.
///
/// Counting rules (documented because every number in a report depends on them):
/// - MACs: `matmul` = output elements × K; `conv2d` = output elements × (C/groups) × KH × KW.
///   Papers' "GFLOPs" for DiT and the VAE count these multiply-accumulates.
/// - FLOPs: 2 × MACs, plus one per output element of every pointwise op and one per input element
///   of every reduction. Transcendentals count as one.
/// - Subgraphs that depend on constants only (position tables, frequency ramps) are folded at
///   compile time and count toward nothing but `nodes`/`ops`.
/// - Weight bytes: every parameter once. Activation bytes: every computed, non-view value once
///   (the traffic an unfused executor writes). Compulsory bytes: weights + inputs + outputs, the
///   least any executor must move; arithmetic intensity is FLOPs per compulsory byte.
public struct GraphStatistics: Hashable, Sendable, Codable {
  public var nodes: Int
  public var ops: [String: Int]
  public var params: Int
  public var macs: Int
  public var flops: Int
  public var weightBytes: Int
  public var inputBytes: Int
  public var outputBytes: Int
  public var activationBytes: Int

  public var compulsoryBytes: Int { weightBytes + inputBytes + outputBytes }
  /// FLOPs per byte that must move at least once.
  public var arithmeticIntensity: Double { compulsoryBytes > 0 ? Double(flops) / Double(compulsoryBytes) : 0 }
  /// FLOPs per byte when every intermediate value is written and read back once (no fusion).
  public var unfusedArithmeticIntensity: Double {
    let traffic = weightBytes + inputBytes + 2 * activationBytes
    return traffic > 0 ? Double(flops) / Double(traffic) : 0
  }

  public init(_ graph: Graph) {
    let folded = graph.constantFoldableNodes()
    var ops: [String: Int] = [:]
    var paramNames = Set<String>()
    var (params, macs, flops, weightBytes, inputBytes, activationBytes) = (0, 0, 0, 0, 0, 0)
    for (id, node) in graph.nodes.enumerated() {
      ops[node.op.kind, default: 0] += 1
      let bytes = node.shape.elementCount * node.dtype.byteSize
      switch node.op {
      case .param(let name):
        if paramNames.insert(name).inserted {
          params += node.shape.elementCount
          weightBytes += bytes
        }
        continue
      case .input:
        inputBytes += bytes
        continue
      default:
        break
      }
      guard !folded.contains(id) else { continue }
      let nodeMACs = Self.multiplyAccumulates(node, in: graph)
      macs += nodeMACs
      flops += 2 * nodeMACs + Self.otherFLOPs(node, in: graph)
      if !node.op.isShapeOp { activationBytes += bytes }
    }
    let outputBytes = graph.outputs.reduce(0) { $0 + graph[$1.node].shape.elementCount * graph[$1.node].dtype.byteSize }
    self.nodes = graph.nodes.count
    self.ops = ops
    self.params = params
    self.macs = macs
    self.flops = flops
    self.weightBytes = weightBytes
    self.inputBytes = inputBytes
    self.outputBytes = outputBytes
    self.activationBytes = activationBytes
  }

  /// Multiply-accumulates of one node (zero for everything but matmul and conv2d).
  public static func multiplyAccumulates(_ node: Node, in graph: Graph) -> Int {
    switch node.op {
    case .matmul:
      let a = graph[node.operands[0]].shape
      return node.shape.elementCount * a[a.rank - 1]
    case .conv2d:
      // The weight [O, C/groups, KH, KW] already holds the per-group input channels.
      let w = graph[node.operands[1]].shape
      return node.shape.elementCount * w[1] * w[2] * w[3]
    default:
      return 0
    }
  }

  /// FLOPs of one node beyond its multiply-accumulates.
  public static func otherFLOPs(_ node: Node, in graph: Graph) -> Int {
    switch node.op {
    case .unary, .binary: return node.shape.elementCount
    case .reduce: return graph[node.operands[0]].shape.elementCount
    default: return 0
    }
  }
}

extension Graph {
  /// Nodes whose value depends on constants only (no input, no param): compile-time tables.
  public func constantFoldableNodes() -> Set<Int> {
    var folded = Set<Int>()
    for (id, node) in nodes.enumerated() {
      switch node.op {
      case .constant: folded.insert(id)
      case .input, .param: continue
      default: if node.operands.allSatisfy(folded.contains) { folded.insert(id) }
      }
    }
    return folded
  }
}
