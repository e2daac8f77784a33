extension Graph {
  /// The graph in Graphviz DOT. Nodes are labelled with their op (attributes included) and
  /// `dtype[shape]`; leaves are styled apart (inputs and params as filled ellipses, constants as
  /// plain ellipses); edges run from producer to consumer; nodes are clustered by the first two
  /// components of their scope (`transformer_blocks.3`), so a transformer renders block by block.
  /// Named outputs appear as extra nodes fed by the node they name.
  public func dot() -> String {
    var lines = [
      "digraph kiln {",
      "  rankdir=TB;",
      "  node [shape=box, fontname=\"monospace\", fontsize=10];",
      "  edge [arrowsize=0.6];",
    ]

    var clusterOrder: [String] = []
    var members: [String: [Int]] = [:]
    var unclustered: [Int] = []
    for (id, node) in nodes.enumerated() {
      guard let cluster = Self.clusterName(of: node.scope) else { unclustered.append(id); continue }
      if members[cluster] == nil { clusterOrder.append(cluster) }
      members[cluster, default: []].append(id)
    }

    for id in unclustered { lines.append("  " + nodeStatement(id)) }
    for (index, cluster) in clusterOrder.enumerated() {
      lines.append("  subgraph cluster_\(index) {")
      lines.append("    label=\(Self.dotString(cluster));")
      lines.append("    style=rounded; color=gray60;")
      for id in members[cluster, default: []] { lines.append("    " + nodeStatement(id)) }
      lines.append("  }")
    }
    for (index, output) in outputs.enumerated() {
      lines.append("  out\(index) [label=\(Self.dotString("output " + output.name)), shape=doubleoctagon];")
    }

    for (id, node) in nodes.enumerated() {
      for operand in node.operands { lines.append("  n\(operand) -> n\(id);") }
    }
    for (index, output) in outputs.enumerated() { lines.append("  n\(output.node) -> out\(index);") }
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }

  private func nodeStatement(_ id: Int) -> String {
    let node = nodes[id]
    let label = Self.dotString("%\(id) " + Self.opText(node.op) + "\n" + "\(node.dtype.rawValue)\(node.shape)")
    let style: String
    switch node.op {
    case .input: style = ", shape=ellipse, style=filled, fillcolor=lightblue"
    case .param: style = ", shape=ellipse, style=filled, fillcolor=lightyellow"
    case .constant: style = ", shape=ellipse, color=gray50"
    default: style = ""
    }
    return "n\(id) [label=\(label)\(style)];"
  }

  /// The first two dot-separated components of a scope, or nil for an empty scope.
  static func clusterName(of scope: String) -> String? {
    guard !scope.isEmpty else { return nil }
    return scope.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false).prefix(2).joined(separator: ".")
  }

  /// A DOT quoted string. Quotes and backslashes are escaped (a lone backslash would start a label
  /// escape such as `\l`); a newline becomes `\n`, Graphviz's centred line break.
  static func dotString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += " "
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}
