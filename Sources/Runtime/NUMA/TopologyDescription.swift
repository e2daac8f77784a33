import Foundation

/// The text `kiln topology` prints: nodes, CPUs, memory, distances, and a placement plan.
public enum TopologyDescription {
  public static func text(of topology: Topology) -> String {
    var lines = ["\(topology.nodes.count) NUMA node\(topology.nodes.count == 1 ? "" : "s"), "
      + "\(topology.cpuCount) CPUs, \(bytes(topology.memoryBytes))"]
    for node in topology.nodes {
      lines.append("  node \(node.id): CPUs \(cpuList(node.cpus)) (\(node.cpus.count)), memory \(bytes(node.memoryBytes))")
    }
    lines.append("distances:")
    let width = max(4, (topology.distances.flatMap { $0 }.map { String($0).count }.max() ?? 2) + 1)
    lines.append("  node" + topology.nodes.map { pad(String($0.id), width) }.joined())
    for (index, row) in topology.distances.enumerated() {
      lines.append("  " + pad(String(topology.nodes[index].id), 4) + row.map { pad(String($0), width) }.joined())
    }
    return lines.joined(separator: "\n")
  }

  public static func text(of plan: PlacementPlan) -> String {
    var lines = ["placement: \(plan.threadCount) thread\(plan.threadCount == 1 ? "" : "s"), numa \(plan.policy.rawValue)"]
    for node in plan.nodesInUse {
      let threads = plan.threads(onNode: node)
      let cpus = threads.map { plan.cpuOfThread[$0] }
      let ids = threads.count == 1 ? "thread \(threads.lowerBound)" : "threads \(threads.lowerBound)-\(threads.upperBound - 1)"
      lines.append("  node \(plan.topology.nodes[node].id): \(ids) on CPU\(cpus.count == 1 ? "" : "s") \(cpuList(cpus))")
    }
    lines.append("  activations: " + describe(plan.activationPlacement, topology: plan.topology))
    switch plan.weightPlacement {
    case .single(let node):
      lines.append("  weights: one copy on node \(plan.topology.nodes[node].id) (the packing thread \(plan.packingThread)'s)")
    case .interleaved(let nodes):
      lines.append("  weights: one copy interleaved over nodes \(osIDs(nodes, plan.topology))")
    case .replicated(let copies):
      lines.append("  weights: \(copies) copies, one per node; each thread reads its node's copy")
    }
    return lines.joined(separator: "\n")
  }

  private static func describe(_ placement: MemoryPlacement, topology: Topology) -> String {
    switch placement {
    case .firstTouch: return "first touch: each thread zero-fills its rows, so each node's rows live on it"
    case .node(let node): return "on node \(topology.nodes[node].id)"
    case .interleaved(let nodes): return "interleaved over nodes \(osIDs(nodes, topology))"
    }
  }

  private static func osIDs(_ nodes: [Int], _ topology: Topology) -> String {
    nodes.map { String(topology.nodes[$0].id) }.joined(separator: ",")
  }

  /// `0-7,16-23`: runs of consecutive ids collapsed.
  static func cpuList(_ cpus: [Int]) -> String {
    var runs: [String] = []
    var index = 0
    while index < cpus.count {
      var end = index
      while end + 1 < cpus.count, cpus[end + 1] == cpus[end] + 1 { end += 1 }
      runs.append(end == index ? "\(cpus[index])" : "\(cpus[index])-\(cpus[end])")
      index = end + 1
    }
    return runs.joined(separator: ",")
  }

  private static func bytes(_ value: Int) -> String {
    let gib = Double(value) / Double(1 << 30)
    return gib >= 1 ? String(format: "%.1f GiB", gib) : String(format: "%.0f MiB", Double(value) / Double(1 << 20))
  }

  private static func pad(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
  }
}
