import ArgumentParser
import Foundation
import Runtime

/// `kiln topology [--topology FILE] [--json] [--threads N --numa POLICY]`: shows the NUMA nodes,
/// their CPUs, memory and distances, and optionally the placement plan of a thread team.
struct TopologyCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "topology",
    abstract: "Show the NUMA topology (nodes, CPUs, memory, distances) and optionally a placement plan.",
    discussion: "Without --topology the machine is read through libnuma. --threads or --numa adds the plan: "
      + "which CPU each thread is pinned to and where weights and activations live."
  )

  @Option(help: "A topology JSON file to use instead of this machine's.")
  var topology: String?

  @Flag(help: "Print as JSON.")
  var json = false

  @Option(help: "Team size for the placement plan (default: one thread per CPU).")
  var threads: Int?

  @Option(help: "NUMA policy for the placement plan: local, interleave or replicate.")
  var numa: NUMAPolicy?

  func run() throws {
    let machine = try topology.map { try Topology(contentsOf: URL(fileURLWithPath: $0)) } ?? Topology.current()
    let plan = threads == nil && numa == nil ? nil
      : try PlacementPlan(topology: machine, threads: threads, policy: numa ?? .local)
    if json {
      try printJSON(TopologyReport(topology: machine, plan: plan.map(PlanReport.init)))
    } else {
      print(TopologyDescription.text(of: machine))
      if let plan { print(TopologyDescription.text(of: plan)) }
    }
  }
}

extension NUMAPolicy: ExpressibleByArgument {}

private struct TopologyReport: Encodable {
  let topology: Topology
  let plan: PlanReport?
}

private struct PlanReport: Encodable {
  let threads: Int
  let policy: String
  let cpuOfThread: [Int]
  let nodeOfThread: [Int]
  let weightCopies: Int

  init(_ plan: PlacementPlan) {
    threads = plan.threadCount
    policy = plan.policy.rawValue
    cpuOfThread = plan.cpuOfThread
    nodeOfThread = plan.nodeOfThread
    weightCopies = plan.weightCopyCount
  }
}
