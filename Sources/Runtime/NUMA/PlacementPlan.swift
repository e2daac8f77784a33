/// Where weights and activations live on a NUMA machine.
public enum NUMAPolicy: String, Sendable, Codable, CaseIterable {
  /// Weights on the node of the thread that packs them; activations first-touched by the thread
  /// that owns their rows, so each node's share lives on that node.
  case local
  /// Weights and activations interleaved page by page over every node.
  case interleave
  /// One copy of the weights per node (each thread reads its node's copy); activations as `local`.
  case replicate
}

/// How one region of memory is placed.
public enum MemoryPlacement: Sendable, Equatable {
  /// Pages left untouched; the thread that writes a page first places it on its node.
  case firstTouch
  /// Every page on this node (index into `Topology.nodes`).
  case node(Int)
  /// Pages interleaved round-robin over these nodes (indices into `Topology.nodes`).
  case interleaved([Int])
}

/// Where the weights go under a plan's policy.
public enum WeightPlacement: Sendable, Equatable {
  /// One copy, on this node (`local`).
  case single(node: Int)
  /// One copy, pages interleaved over these nodes (`interleave`).
  case interleaved(nodes: [Int])
  /// One copy per node; copy `i` lives on node `i` (`replicate`).
  case replicated(copies: Int)
}

/// The row span of a buffer one node owns (writes first, so its pages land there).
public struct NodeRows: Sendable, Equatable {
  public var node: Int
  public var rows: Range<Int>

  public init(node: Int, rows: Range<Int>) {
    self.node = node
    self.rows = rows
  }
}

/// Which CPU each thread runs on and where each piece of memory lives; pure data, decided from a
/// topology, a thread count and a policy, so plans for machines we do not have can be tested.
///
/// Threads are numbered node by node (threads 0..<k on node 0, the next on node 1, …), so the
/// contiguous split of rows by thread id that the kernels use (`kiln_thread_range`) is also a
/// split by node.
public struct PlacementPlan: Sendable, Equatable {
  public let topology: Topology
  public let policy: NUMAPolicy
  /// `cpuOfThread[t]`: the CPU thread `t` is pinned to.
  public let cpuOfThread: [Int]
  /// `nodeOfThread[t]`: the node index (into `topology.nodes`) of thread `t`'s CPU.
  public let nodeOfThread: [Int]
  /// The thread that packs the weights; under `local` they live on its node.
  public let packingThread: Int

  public var threadCount: Int { cpuOfThread.count }

  /// - Parameters:
  ///   - threads: team size, 1...topology.cpuCount; nil means one thread per CPU.
  ///   - packingThread: the thread that packs the weights (thread 0 unless an executor says otherwise).
  public init(topology: Topology, threads: Int? = nil, policy: NUMAPolicy = .local, packingThread: Int = 0) throws {
    let count = threads ?? topology.cpuCount
    guard count >= 1, count <= topology.cpuCount else {
      throw RuntimeError.unsupported(
        "threads: \(count) requested, the topology has \(topology.cpuCount) CPUs (choose 1...\(topology.cpuCount))")
    }
    guard packingThread >= 0, packingThread < count else {
      throw RuntimeError.unsupported("packing thread: \(packingThread) is not one of the \(count) threads")
    }
    let perNode = Self.threadsPerNode(count, capacities: topology.nodes.map(\.cpus.count))
    var cpus: [Int] = []
    var nodes: [Int] = []
    for (node, threadCount) in perNode.enumerated() {
      // The first CPUs of a node by id: on Linux these are distinct physical cores before SMT siblings.
      cpus += topology.nodes[node].cpus.prefix(threadCount)
      nodes += Array(repeating: node, count: threadCount)
    }
    self.topology = topology
    self.policy = policy
    self.cpuOfThread = cpus
    self.nodeOfThread = nodes
    self.packingThread = packingThread
  }

  /// Spreads `count` threads as evenly as the nodes' CPU counts allow, earlier nodes taking the
  /// remainder; a node that fills up passes its share on to the others.
  static func threadsPerNode(_ count: Int, capacities: [Int]) -> [Int] {
    var assigned = Array(repeating: 0, count: capacities.count)
    var remaining = count
    while remaining > 0 {
      let open = capacities.indices.filter { assigned[$0] < capacities[$0] }
      guard !open.isEmpty else { break }
      let share = remaining / open.count
      let extra = remaining % open.count
      for (rank, node) in open.enumerated() {
        let wanted = share + (rank < extra ? 1 : 0)
        let taken = min(wanted, capacities[node] - assigned[node])
        assigned[node] += taken
        remaining -= taken
      }
    }
    return assigned
  }

  // MARK: - Threads and nodes

  /// The threads that run on a node: a contiguous range, since threads are numbered node by node.
  public func threads(onNode node: Int) -> Range<Int> {
    guard let first = nodeOfThread.firstIndex(of: node), let last = nodeOfThread.lastIndex(of: node) else {
      let start = nodeOfThread.firstIndex { $0 > node } ?? threadCount
      return start..<start
    }
    return first..<(last + 1)
  }

  /// The nodes that run at least one thread, ascending.
  public var nodesInUse: [Int] { topology.nodes.indices.filter { !threads(onNode: $0).isEmpty } }

  // MARK: - Rows of a buffer

  /// Thread `thread`'s share of `count` rows — the formula of `kiln_thread_range` in kiln_abi.h:
  /// base = count / n, extra = count % n, begin = t·base + min(t, extra), one more row if t < extra.
  public static func threadRange(count: Int, thread: Int, threads: Int) -> Range<Int> {
    let base = count / threads
    let extra = count % threads
    let begin = thread * base + min(thread, extra)
    return begin..<(begin + base + (thread < extra ? 1 : 0))
  }

  public func rows(ofThread thread: Int, count: Int) -> Range<Int> {
    Self.threadRange(count: count, thread: thread, threads: threadCount)
  }

  /// The rows of a `count`-row buffer that a node's threads own (and first-touch).
  public func rows(ofNode node: Int, count: Int) -> Range<Int> {
    let threads = threads(onNode: node)
    guard let first = threads.first, let last = threads.last else {
      let start = threads.lowerBound < threadCount ? rows(ofThread: threads.lowerBound, count: count).lowerBound : count
      return start..<start
    }
    return rows(ofThread: first, count: count).lowerBound..<rows(ofThread: last, count: count).upperBound
  }

  /// Every node in use with the rows of a `count`-row buffer it owns, in row order.
  public func rowOwnership(count: Int) -> [NodeRows] {
    nodesInUse.map { NodeRows(node: $0, rows: rows(ofNode: $0, count: count)) }
  }

  // MARK: - Memory

  /// Where activation buffers go: interleaved under `interleave`, first touch otherwise.
  public var activationPlacement: MemoryPlacement {
    policy == .interleave ? .interleaved(Array(topology.nodes.indices)) : .firstTouch
  }

  public var weightPlacement: WeightPlacement {
    switch policy {
    case .local: return .single(node: nodeOfThread[packingThread])
    case .interleave: return .interleaved(nodes: Array(topology.nodes.indices))
    case .replicate: return .replicated(copies: topology.nodes.count)
    }
  }

  /// How many copies of the weights exist (one per node under `replicate`).
  public var weightCopyCount: Int {
    if case .replicated(let copies) = weightPlacement { return copies }
    return 1
  }

  /// The weight copy thread `thread` reads: its node's copy under `replicate`, the only one otherwise.
  public func weightCopy(forThread thread: Int) -> Int {
    policy == .replicate ? nodeOfThread[thread] : 0
  }

  /// Where weight copy `copy` lives.
  public func placement(ofWeightCopy copy: Int) -> MemoryPlacement {
    switch weightPlacement {
    case .single(let node): return .node(node)
    case .interleaved(let nodes): return .interleaved(nodes)
    case .replicated: return .node(copy)
    }
  }
}
