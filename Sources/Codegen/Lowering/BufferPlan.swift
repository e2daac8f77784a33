import Tracer

/// One kernel of a schedule, by the activation buffers it reads and writes.
public struct PlanStep: Hashable, Sendable {
  public var reads: [Int]
  public var writes: [Int]

  public init(reads: [Int], writes: [Int]) {
    self.reads = reads
    self.writes = writes
  }
}

/// Why a buffer plan cannot be made.
public struct BufferPlanError: Error, Equatable, CustomStringConvertible, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { "buffer plan: " + message }
}

/// Static byte offsets of every activation buffer in one arena. Buffers whose lifetimes overlap
/// never overlap in memory; the others share it.
///
/// A buffer is live from the step that writes it (step 0 for graph inputs) through the last step
/// that reads it; graph outputs stay live through the last step. Placement is greedy: largest
/// buffers first (ties: earliest start), each at the smallest gap between the already placed
/// buffers it conflicts with that fits it (best fit), else above all of them.
public struct BufferPlan: Hashable, Sendable {
  public static let defaultAlignment = 64

  /// Byte offset of each buffer in the arena (a multiple of `alignment`).
  public var offsets: [Int]
  public var sizes: [Int]
  /// First and last step at which each buffer is live; nil for a buffer no step uses (it gets
  /// no memory of its own).
  public var lifetimes: [ClosedRange<Int>?]
  /// Bytes the arena needs.
  public var arenaBytes: Int
  /// The most bytes live at once over the schedule: no placement can use less.
  public var lowerBound: Int
  public var alignment: Int

  /// Plans `sizes.count` buffers (ids 0..<count) used by `steps` in order. `inputs` are live from
  /// the first step; `outputs` to the last. Every buffer read must be an input or written by an
  /// earlier step, and no buffer is written twice.
  public init(sizes: [Int], steps: [PlanStep], inputs: [Int], outputs: [Int],
              alignment: Int = BufferPlan.defaultAlignment) throws(BufferPlanError) {
    guard alignment >= 1, alignment & (alignment - 1) == 0 else {
      throw BufferPlanError("alignment \(alignment) is not a power of two")
    }
    for (id, size) in sizes.enumerated() where size < 0 {
      throw BufferPlanError("buffer \(id) has a negative size \(size)")
    }
    let lifetimes = try BufferPlan.lifetimes(count: sizes.count, steps: steps, inputs: inputs, outputs: outputs)
    let spans = lifetimes.enumerated().compactMap { id, span in span.map { (id: id, span: $0) } }
      .filter { sizes[$0.id] > 0 }
      .sorted { a, b in
        sizes[a.id] != sizes[b.id] ? sizes[a.id] > sizes[b.id] : (a.span.lowerBound, a.id) < (b.span.lowerBound, b.id)
      }
    var offsets = [Int](repeating: 0, count: sizes.count)
    var arena = 0
    var placed: [(span: ClosedRange<Int>, start: Int, end: Int)] = []
    for (buffer, span) in spans {
      let conflicts = placed.filter { $0.span.overlaps(span) }
        .map { (start: $0.start, end: $0.end) }
        .sorted { $0.start < $1.start }
      let offset = BufferPlan.bestFit(size: sizes[buffer], between: conflicts, alignment: alignment)
      offsets[buffer] = offset
      arena = max(arena, offset + sizes[buffer])
      placed.append((span, offset, offset + sizes[buffer]))
    }
    self.sizes = sizes
    self.alignment = alignment
    self.lifetimes = lifetimes
    self.offsets = offsets
    self.arenaBytes = BufferPlan.align(arena, alignment)
    self.lowerBound = BufferPlan.peakLiveBytes(sizes: sizes, lifetimes: lifetimes, stepCount: max(steps.count, 1))
  }

  /// True when `a` and `b` are live at a common step and their byte ranges intersect.
  public func conflict(_ a: Int, _ b: Int) -> Bool {
    guard a != b, sizes[a] > 0, sizes[b] > 0, let spanA = lifetimes[a], let spanB = lifetimes[b],
          spanA.overlaps(spanB) else { return false }
    return offsets[a] < offsets[b] + sizes[b] && offsets[b] < offsets[a] + sizes[a]
  }

  static func align(_ value: Int, _ alignment: Int) -> Int { (value + alignment - 1) / alignment * alignment }

  private static func lifetimes(count: Int, steps: [PlanStep], inputs: [Int], outputs: [Int])
    throws(BufferPlanError) -> [ClosedRange<Int>?] {
    func check(_ id: Int, _ role: String) throws(BufferPlanError) {
      guard (0..<count).contains(id) else { throw BufferPlanError("\(role) names buffer \(id), not in 0..<\(count)") }
    }
    var start = [Int?](repeating: nil, count: count)
    var end = [Int](repeating: 0, count: count)
    for input in inputs {
      try check(input, "inputs")
      start[input] = 0
    }
    for (index, step) in steps.enumerated() {
      for read in step.reads {
        try check(read, "step \(index) reads")
        guard start[read] != nil else {
          throw BufferPlanError("step \(index) reads buffer \(read) before any step writes it")
        }
        end[read] = max(end[read], index)
      }
      for write in step.writes {
        try check(write, "step \(index) writes")
        guard start[write] == nil else { throw BufferPlanError("step \(index) writes buffer \(write), already written") }
        start[write] = index
        end[write] = index
      }
    }
    let last = max(steps.count - 1, 0)
    for output in outputs {
      try check(output, "outputs")
      guard start[output] != nil else { throw BufferPlanError("output buffer \(output) is never written") }
      end[output] = last
    }
    return (0..<count).map { id in start[id].map { $0...max($0, end[id]) } }
  }

  private static func peakLiveBytes(sizes: [Int], lifetimes: [ClosedRange<Int>?], stepCount: Int) -> Int {
    var delta = [Int](repeating: 0, count: stepCount + 1)
    for (id, span) in lifetimes.enumerated() {
      guard let span else { continue }
      delta[span.lowerBound] += sizes[id]
      delta[span.upperBound + 1] -= sizes[id]
    }
    var live = 0
    var peak = 0
    for change in delta {
      live += change
      peak = max(peak, live)
    }
    return peak
  }

  /// The aligned offset of the smallest gap between `occupied` ranges (sorted by start) that
  /// holds `size` bytes, or the first aligned offset above them all.
  private static func bestFit(size: Int, between occupied: [(start: Int, end: Int)], alignment: Int) -> Int {
    var best: (offset: Int, gap: Int)?
    var cursor = 0
    for range in occupied {
      let offset = align(cursor, alignment)
      let gap = range.start - offset
      if gap >= size, best.map({ gap < $0.gap }) ?? true { best = (offset, gap) }
      cursor = max(cursor, range.end)
    }
    return best?.offset ?? align(cursor, alignment)
  }
}

/// The schedule of a graph run op by op: one step per non-leaf node that computes (shape ops
/// other than concat are views: they alias their operand's buffer and are no step), one buffer
/// per graph input and per computing node; params and constants are weights, not activations.
public struct NodeSchedule: Hashable, Sendable {
  /// Buffer of each node (`nil` for params and constants).
  public var bufferOfNode: [Int?]
  /// The node owning each buffer.
  public var nodeOfBuffer: [Int]
  public var sizes: [Int]
  public var steps: [PlanStep]
  public var inputs: [Int]
  public var outputs: [Int]

  public init(_ graph: Graph) {
    var bufferOfNode = [Int?](repeating: nil, count: graph.nodes.count)
    var nodeOfBuffer: [Int] = []
    var sizes: [Int] = []
    var steps: [PlanStep] = []
    var inputs: [Int] = []
    for (id, node) in graph.nodes.enumerated() {
      switch node.op {
      case .param, .constant:
        continue
      case .reshape, .permute, .slice, .expand:
        bufferOfNode[id] = bufferOfNode[node.operands[0]]
        continue
      default:
        break
      }
      let buffer = sizes.count
      bufferOfNode[id] = buffer
      nodeOfBuffer.append(id)
      sizes.append(node.shape.elementCount * node.dtype.byteSize)
      if case .input = node.op {
        inputs.append(buffer)
      } else {
        let reads = Set(node.operands.compactMap { bufferOfNode[$0] })
        steps.append(PlanStep(reads: reads.sorted(), writes: [buffer]))
      }
    }
    self.bufferOfNode = bufferOfNode
    self.nodeOfBuffer = nodeOfBuffer
    self.sizes = sizes
    self.steps = steps
    self.inputs = inputs
    self.outputs = Array(Set(graph.outputs.compactMap { bufferOfNode[$0.node] })).sorted()
  }

  public func plan(alignment: Int = BufferPlan.defaultAlignment) throws(BufferPlanError) -> BufferPlan {
    try BufferPlan(sizes: sizes, steps: steps, inputs: inputs, outputs: outputs, alignment: alignment)
  }
}
