import CNUMA
import Foundation

/// Where the kernel says a page lives.
public enum PageLocation: Sendable, Equatable {
  /// On this node (index into `Topology.nodes`, or the OS id when it is not in the topology).
  case node(Int)
  /// Not backed yet (never touched).
  case notPresent
  /// The kernel answered this errno for the page.
  case failed(Int32)
}

/// One region of memory mapped with mmap: page-aligned (so 64-byte aligned for every kernel),
/// aligned to 2 MiB and advised for transparent huge pages when it is that large, placed on the
/// NUMA nodes its placement names, and unmapped when the arena goes away.
public final class Arena: @unchecked Sendable {
  public static let hugePageBytes = 2 << 20

  public let base: UnsafeMutableRawPointer
  public let byteCount: Int
  public let placement: MemoryPlacement
  /// The topology the placement's node indices refer to.
  public let topology: Topology
  private let mapping: UnsafeMutableRawPointer
  private let mappingBytes: Int

  /// Maps `byteCount` bytes (rounded up to whole pages) and applies `placement`: `.node` binds every
  /// page to that node, `.interleaved` interleaves pages over the nodes, `.firstTouch` leaves the
  /// pages untouched for their owners to write first.
  public init(byteCount: Int, placement: MemoryPlacement, topology: Topology) throws {
    guard byteCount > 0 else { throw RuntimeError.unsupported("arena: size \(byteCount) bytes is not positive") }
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    let huge = byteCount >= Self.hugePageBytes
    let alignment = huge ? Self.hugePageBytes : pageSize
    let size = (byteCount + pageSize - 1) / pageSize * pageSize
    // Over-map by one alignment unit so the arena can start on a huge-page boundary.
    let mappingBytes = size + (huge ? alignment : 0)
    let mapped = mmap(nil, mappingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    guard let mapped, mapped != MAP_FAILED else {
      throw RuntimeError.system("arena: mmap of \(mappingBytes) bytes failed: \(String(cString: strerror(errno)))")
    }
    let address = Int(bitPattern: mapped)
    let aligned = (address + alignment - 1) / alignment * alignment
    self.mapping = mapped
    self.mappingBytes = mappingBytes
    self.base = mapped.advanced(by: aligned - address)
    self.byteCount = size
    self.placement = placement
    self.topology = topology
    if huge {
      // Advice only: a kernel without transparent huge pages refuses it and the arena still works.
      _ = madvise(base, size, MADV_HUGEPAGE)
    }
    try applyPlacement()
  }

  deinit {
    munmap(mapping, mappingBytes)
  }

  /// The weight arenas of a plan: one per copy (`plan.weightCopyCount`), copy `i` placed as
  /// `plan.placement(ofWeightCopy: i)`; thread `t` reads copy `plan.weightCopy(forThread: t)`.
  public static func weights(byteCount: Int, plan: PlacementPlan) throws -> [Arena] {
    try (0..<plan.weightCopyCount).map {
      try Arena(byteCount: byteCount, placement: plan.placement(ofWeightCopy: $0), topology: plan.topology)
    }
  }

  /// The activation arena of a plan; under first touch its pages are placed by
  /// `ThreadTeam.firstTouch(_:regions:)`, which must run before anything else writes it.
  public static func activations(byteCount: Int, plan: PlacementPlan) throws -> Arena {
    try Arena(byteCount: byteCount, placement: plan.activationPlacement, topology: plan.topology)
  }

  private func applyPlacement() throws {
    let nodes: [Int]
    let mode: Int32
    switch placement {
    case .firstTouch: return
    case .node(let node):
      nodes = [node]
      mode = MPOL_BIND
    case .interleaved(let interleaved):
      nodes = interleaved
      mode = MPOL_INTERLEAVE
    }
    for node in nodes where !topology.nodes.indices.contains(node) {
      throw RuntimeError.invalidTopology("arena: node index \(node) is not in the topology's \(topology.nodes.count) nodes")
    }
    // Without NUMA support in the kernel there is one node and nothing to bind.
    guard numa_available() >= 0 else { return }
    let osNodes = nodes.map { topology.nodes[$0].id }
    var mask = Self.nodeMask(osNodes)
    let status = mask.withUnsafeMutableBufferPointer { words in
      mbind(base, UInt(byteCount), mode, words.baseAddress, UInt(words.count * UInt.bitWidth + 1), 0)
    }
    guard status == 0 else {
      throw RuntimeError.system(
        "arena: mbind to nodes \(osNodes) failed: \(String(cString: strerror(errno))) (is the topology this machine's?)")
    }
  }

  private static func nodeMask(_ osNodes: [Int]) -> [UInt] {
    let bits = UInt.bitWidth
    var mask = [UInt](repeating: 0, count: (osNodes.max() ?? 0) / bits + 1)
    for node in osNodes { mask[node / bits] |= 1 << UInt(node % bits) }
    return mask
  }

  // MARK: - Asking the kernel

  public static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

  /// Where each page of `bytes` (default: the whole arena) lives, asked of the kernel with
  /// move_pages(nodes = NULL), which moves nothing and only reports. Throws if the call fails.
  public func pageLocations(bytes: Range<Int>? = nil) throws -> [PageLocation] {
    let range = bytes ?? 0..<byteCount
    guard range.lowerBound >= 0, range.upperBound <= byteCount else {
      throw RuntimeError.unsupported("arena: bytes \(range) are outside the arena's \(byteCount) bytes")
    }
    let pageSize = Self.pageSize
    let firstPage = range.lowerBound / pageSize
    let endPage = (range.upperBound + pageSize - 1) / pageSize
    var pages: [UnsafeMutableRawPointer?] = (firstPage..<endPage).map { base.advanced(by: $0 * pageSize) }
    var status = [Int32](repeating: 0, count: pages.count)
    guard !pages.isEmpty else { return [] }
    let result = move_pages(0, UInt(pages.count), &pages, nil, &status, 0)
    guard result == 0 else {
      throw RuntimeError.system("arena: move_pages failed: \(String(cString: strerror(errno)))")
    }
    let indexOfOSNode = Dictionary(uniqueKeysWithValues: topology.nodes.enumerated().map { ($1.id, $0) })
    return status.map { code in
      if code >= 0 { return .node(indexOfOSNode[Int(code)] ?? Int(code)) }
      return code == -ENOENT ? .notPresent : .failed(-code)
    }
  }
}

/// A region of an arena split by rows between the team's threads, as a kernel's output is.
public struct ArenaRegion: Sendable, Equatable {
  public var offset: Int
  public var rows: Int
  public var rowBytes: Int

  public init(offset: Int, rows: Int, rowBytes: Int) {
    self.offset = offset
    self.rows = rows
    self.rowBytes = rowBytes
  }
}
