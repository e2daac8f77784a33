import Testing
import Tracer
import Models
@testable import Codegen

/// No two buffers live at a common step share a byte, every offset is aligned, every buffer
/// fits in the arena, and the arena is no smaller than the peak of live bytes.
private func expectSound(_ plan: BufferPlan, _ context: String) {
  let live = plan.sizes.indices.filter { plan.lifetimes[$0] != nil && plan.sizes[$0] > 0 }
  // Sweep by offset: only buffers whose byte ranges intersect need a lifetime comparison.
  let byOffset = live.sorted { plan.offsets[$0] < plan.offsets[$1] }
  for (position, a) in byOffset.enumerated() {
    #expect(plan.offsets[a] % plan.alignment == 0, "\(context): buffer \(a) misaligned")
    #expect(plan.offsets[a] + plan.sizes[a] <= plan.arenaBytes, "\(context): buffer \(a) past the arena")
    for b in byOffset[(position + 1)...] {
      if plan.offsets[b] >= plan.offsets[a] + plan.sizes[a] { break }
      #expect(!plan.conflict(a, b), "\(context): buffers \(a) and \(b) overlap while both live")
    }
  }
  #expect(plan.arenaBytes >= plan.lowerBound, "\(context)")
}

/// A random schedule: each step reads a few earlier buffers and writes one or two new ones.
private func randomSchedule(seed: UInt64) -> (sizes: [Int], steps: [PlanStep], inputs: [Int], outputs: [Int]) {
  var generator = SplitMix64(seed: seed)
  let inputCount = Int.random(in: 1...3, using: &generator)
  var sizes = (0..<inputCount).map { _ in Int.random(in: 1...5000, using: &generator) }
  var steps: [PlanStep] = []
  for _ in 0..<Int.random(in: 1...60, using: &generator) {
    let reads = (0..<Int.random(in: 1...3, using: &generator)).map { _ in Int.random(in: 0..<sizes.count, using: &generator) }
    let writes = (0..<Int.random(in: 1...2, using: &generator)).map { _ in
      sizes.append([0, 1, 63, 64, 65, Int.random(in: 1...100_000, using: &generator)].randomElement(using: &generator) ?? 1)
      return sizes.count - 1
    }
    steps.append(PlanStep(reads: reads, writes: writes))
  }
  let outputs = [sizes.count - 1, Int.random(in: inputCount..<sizes.count, using: &generator)]
  return (sizes, steps, Array(0..<inputCount), outputs)
}

struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

@Suite struct BufferPlanTests {
  @Test func buffersLiveTogetherNeverShareMemoryOnRandomSchedules() throws {
    let baseSeed = UInt64.random(in: 0...UInt64.max)
    for trial in 0..<300 {
      let seed = baseSeed &+ UInt64(trial)
      let schedule = randomSchedule(seed: seed)
      let plan = try BufferPlan(sizes: schedule.sizes, steps: schedule.steps, inputs: schedule.inputs,
                                outputs: schedule.outputs)
      expectSound(plan, "seed \(seed)")
    }
  }

  @Test func buffersWithDisjointLifetimesShareMemory() throws {
    // 0 → 1 → 2 → 3: each step holds what it reads and what it writes, so 2 can reuse 0's bytes
    // and 3 can reuse 1's.
    let steps = [PlanStep(reads: [0], writes: [1]), PlanStep(reads: [1], writes: [2]), PlanStep(reads: [2], writes: [3])]
    let plan = try BufferPlan(sizes: [640, 640, 640, 640], steps: steps, inputs: [0], outputs: [3])
    expectSound(plan, "chain")
    #expect(plan.lowerBound == 2 * 640 && plan.arenaBytes == 2 * 640)
    #expect(plan.offsets[0] == plan.offsets[2] && plan.offsets[1] == plan.offsets[3])
    #expect(plan.lifetimes[0] == 0...0 && plan.lifetimes[3] == 2...2)
  }

  @Test func graphOutputsStayLiveToTheEnd() throws {
    let steps = [PlanStep(reads: [0], writes: [1]), PlanStep(reads: [0], writes: [2]), PlanStep(reads: [2], writes: [3])]
    let plan = try BufferPlan(sizes: [64, 64, 64, 64], steps: steps, inputs: [0], outputs: [1, 3])
    #expect(plan.lifetimes[1] == 0...2)
    #expect(!plan.conflict(1, 3) && plan.offsets[1] != plan.offsets[3])
  }

  @Test func readingABufferNoStepWroteIsRefused() {
    #expect(throws: BufferPlanError("step 0 reads buffer 1 before any step writes it")) {
      try BufferPlan(sizes: [4, 4], steps: [PlanStep(reads: [1], writes: [0])], inputs: [], outputs: [])
    }
    #expect(throws: BufferPlanError.self) {
      try BufferPlan(sizes: [4], steps: [PlanStep(reads: [], writes: [0]), PlanStep(reads: [], writes: [0])],
                     inputs: [], outputs: [])
    }
  }

  @Test func ditXL2ArenaIsWithinOneAndAHalfTimesTheLowerBound() throws {
    let (family, config) = try ModelRegistry.resolve("dit-xl-2")
    let graph = try family.trace(config: config)
    let schedule = NodeSchedule(graph)
    let plan = try schedule.plan()
    expectSound(plan, "dit-xl-2")
    #expect(schedule.steps.count == graph.nodes.filter { !$0.op.isLeaf && !isView($0.op) }.count)
    #expect(plan.lowerBound > 0)
    #expect(Double(plan.arenaBytes) <= 1.5 * Double(plan.lowerBound),
            "arena \(plan.arenaBytes) bytes, lower bound \(plan.lowerBound) bytes")
  }

  @Test func shapeOpsAliasTheirOperandsBuffer() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [2, 6])
      let y = (x.reshape([3, 4]).transposed() * 2).exp()
      b.output("y", y.slice(axis: 0, 0..<2))
    }
    let schedule = NodeSchedule(graph)
    #expect(schedule.bufferOfNode[1] == schedule.bufferOfNode[0] && schedule.bufferOfNode[2] == schedule.bufferOfNode[0])
    #expect(schedule.steps.count == 2 && schedule.sizes == [48, 48, 48])
    #expect(schedule.outputs == [schedule.bufferOfNode[6]].compactMap { $0 } && schedule.bufferOfNode[6] == schedule.bufferOfNode[5])
  }

  private func isView(_ op: Op) -> Bool {
    switch op {
    case .reshape, .permute, .slice, .expand: return true
    default: return false
    }
  }
}
