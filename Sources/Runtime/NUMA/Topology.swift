import CNUMA
import Foundation

/// The machine as the placement plan sees it: NUMA nodes, the CPUs of each, their memory, and the
/// distance matrix (10 = local, larger = farther, as the firmware's SLIT reports it).
///
/// Nodes are addressed by their *index* in `nodes` everywhere in the runtime (plans, weight
/// copies, `node_of_thread[]`); `Node.id` keeps the operating system's number, which can be sparse,
/// for the system calls that need it.
public struct Topology: Sendable, Equatable, Codable {
  public struct Node: Sendable, Equatable, Codable {
    /// The operating system's node number (what libnuma and mbind take).
    public var id: Int
    /// CPU ids, ascending.
    public var cpus: [Int]
    public var memoryBytes: Int

    public init(id: Int, cpus: [Int], memoryBytes: Int) {
      self.id = id
      self.cpus = cpus.sorted()
      self.memoryBytes = memoryBytes
    }
  }

  public let nodes: [Node]
  /// `distances[i][j]`: the distance from node index `i` to node index `j`.
  public let distances: [[Int]]

  public var cpuCount: Int { nodes.reduce(0) { $0 + $1.cpus.count } }
  public var memoryBytes: Int { nodes.reduce(0) { $0 + $1.memoryBytes } }

  /// A validated topology: at least one node, unique node ids, each node with at least one CPU,
  /// CPU ids unique across nodes, memory not negative, distances an n×n symmetric matrix of
  /// positive values whose diagonal is the smallest entry of its row.
  public init(nodes: [Node], distances: [[Int]]) throws {
    try Self.validate(nodes: nodes, distances: distances)
    self.nodes = nodes.map { Node(id: $0.id, cpus: $0.cpus, memoryBytes: $0.memoryBytes) }
    self.distances = distances
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    try self.init(nodes: try container.decode([Node].self, forKey: .nodes),
                  distances: try container.decode([[Int]].self, forKey: .distances))
  }

  /// Reads the JSON form (`{"nodes": [{"id", "cpus", "memoryBytes"}], "distances": [[…]]}`).
  public init(json: Data) throws {
    do {
      self = try JSONDecoder().decode(Topology.self, from: json)
    } catch let error as RuntimeError {
      throw error
    } catch let error as DecodingError {
      throw RuntimeError.invalidTopology(Self.describe(error))
    } catch {
      throw RuntimeError.invalidTopology("not valid JSON: \(error.localizedDescription)")
    }
  }

  public init(contentsOf url: URL) throws {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw RuntimeError.invalidTopology("cannot read '\(url.path)': \(error.localizedDescription)")
    }
    do {
      try self.init(json: data)
    } catch let error as RuntimeError {
      throw RuntimeError.invalidTopology("'\(url.path)': " + error.description.dropPrefix("topology: "))
    }
  }

  /// The JSON form, pretty and key-sorted, which `init(json:)` reads back.
  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(self)
  }

  /// This machine, from libnuma: nodes that have CPUs this process may run on (memory-only nodes
  /// and CPUs outside the process's affinity mask are left out, since no thread can be pinned
  /// there). When libnuma reports NUMA unavailable: one node with every allowed CPU and all memory.
  public static func current() throws -> Topology {
    let allowed = try allowedCPUs()
    guard numa_available() >= 0 else { return try singleNode(cpus: allowed) }
    let maxNode = numa_max_node()
    guard maxNode >= 0, let mask = numa_allocate_cpumask() else { return try singleNode(cpus: allowed) }
    defer { numa_bitmask_free(mask) }
    let allowedSet = Set(allowed)
    let possibleCPUs = Int(numa_num_possible_cpus())
    var nodes: [Node] = []
    for node in 0...maxNode {
      // Node numbers can be sparse; libnuma reports no size for a node that does not exist.
      let size = numa_node_size64(node, nil)
      guard size >= 0, numa_node_to_cpus(node, mask) == 0 else { continue }
      let cpus = (0..<possibleCPUs).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 && allowedSet.contains($0) }
      guard !cpus.isEmpty else { continue }
      nodes.append(Node(id: Int(node), cpus: cpus, memoryBytes: Int(size)))
    }
    guard !nodes.isEmpty else { return try singleNode(cpus: allowed) }
    let distances = nodes.map { from in
      nodes.map { to in
        let reported = Int(numa_distance(Int32(from.id), Int32(to.id)))
        // libnuma answers 0 when the firmware gives no distance table.
        return reported > 0 ? reported : (from.id == to.id ? 10 : 20)
      }
    }
    return try Topology(nodes: nodes, distances: distances)
  }

  /// The one-node machine assumed when libnuma reports NUMA unavailable.
  static func singleNode(cpus: [Int]) throws -> Topology {
    let pages = sysconf(Int32(_SC_PHYS_PAGES))
    let pageSize = sysconf(Int32(_SC_PAGESIZE))
    let memory = pages > 0 && pageSize > 0 ? pages * pageSize : 0
    return try Topology(nodes: [Node(id: 0, cpus: cpus, memoryBytes: memory)], distances: [[10]])
  }

  /// The CPUs in this process's affinity mask (what a container's cpuset or `taskset` allows).
  private static func allowedCPUs() throws -> [Int] {
    guard let mask = numa_allocate_cpumask() else { throw RuntimeError.system("topology: cannot allocate a CPU mask") }
    defer { numa_bitmask_free(mask) }
    guard numa_sched_getaffinity(0, mask) >= 0 else {
      throw RuntimeError.system("topology: sched_getaffinity failed: \(String(cString: strerror(errno)))")
    }
    let cpus = (0..<Int(mask.pointee.size)).filter { numa_bitmask_isbitset(mask, UInt32($0)) != 0 }
    guard !cpus.isEmpty else { throw RuntimeError.invalidTopology("this process may run on no CPU") }
    return cpus
  }

  private static func validate(nodes: [Node], distances: [[Int]]) throws {
    guard !nodes.isEmpty else { throw RuntimeError.invalidTopology("nodes: at least one node is needed") }
    var ids = Set<Int>()
    var cpuOwner: [Int: Int] = [:]
    for (index, node) in nodes.enumerated() {
      guard node.id >= 0 else { throw RuntimeError.invalidTopology("nodes[\(index)].id: \(node.id) is negative") }
      guard ids.insert(node.id).inserted else {
        throw RuntimeError.invalidTopology("nodes[\(index)].id: node \(node.id) appears twice")
      }
      guard !node.cpus.isEmpty else { throw RuntimeError.invalidTopology("nodes[\(index)].cpus: node \(node.id) has no CPU") }
      guard node.memoryBytes >= 0 else {
        throw RuntimeError.invalidTopology("nodes[\(index)].memoryBytes: \(node.memoryBytes) is negative")
      }
      for cpu in node.cpus {
        guard cpu >= 0 else { throw RuntimeError.invalidTopology("nodes[\(index)].cpus: CPU \(cpu) is negative") }
        if let other = cpuOwner[cpu] {
          throw RuntimeError.invalidTopology("nodes[\(index)].cpus: CPU \(cpu) also belongs to nodes[\(other)]")
        }
        cpuOwner[cpu] = index
      }
    }
    guard distances.count == nodes.count else {
      throw RuntimeError.invalidTopology("distances: \(distances.count) rows for \(nodes.count) nodes")
    }
    for (i, row) in distances.enumerated() {
      guard row.count == nodes.count else {
        throw RuntimeError.invalidTopology("distances[\(i)]: \(row.count) entries for \(nodes.count) nodes")
      }
      for (j, distance) in row.enumerated() {
        guard distance > 0 else { throw RuntimeError.invalidTopology("distances[\(i)][\(j)]: \(distance) is not positive") }
        guard distance == distances[j][i] else {
          throw RuntimeError.invalidTopology("distances[\(i)][\(j)]: \(distance) differs from distances[\(j)][\(i)] = \(distances[j][i])")
        }
        guard i == j || distance > row[i] else {
          throw RuntimeError.invalidTopology("distances[\(i)][\(j)]: \(distance) is not larger than the local distance \(row[i])")
        }
      }
    }
  }

  private static func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
      let rendered = context.codingPath.reduce("") { text, key in
        if let index = key.intValue { return text + "[\(index)]" }
        return text.isEmpty ? key.stringValue : text + "." + key.stringValue
      }
      return rendered.isEmpty ? "top level" : rendered
    }
    switch error {
    case .keyNotFound(let key, let context):
      let parent = path(context)
      return (parent == "top level" ? "" : parent + ".") + key.stringValue + ": missing"
    case .typeMismatch(let type, let context):
      return "\(path(context)): expected \(type)"
    case .valueNotFound(let type, let context):
      return "\(path(context)): expected \(type), found null"
    case .dataCorrupted(let context):
      return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)): \(context.debugDescription)"
    @unknown default:
      return "cannot be decoded"
    }
  }
}

extension String {
  fileprivate func dropPrefix(_ prefix: String) -> String {
    hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
  }
}
