import Codegen
import Foundation
import Tracer

/// Runs a `Program` emitted by Codegen: `compiled` (fused templates) or `naive` (one textbook
/// kernel per primitive), whichever mode the program was lowered in.
///
/// At init the module is compiled (or taken from the cache) and loaded, the team is started and
/// pinned, every weight is packed into its 64-byte aligned slot of the weight arena (one arena per
/// node under `replicate`) by the threads that will read it, and the activation arena is zeroed by
/// the team so that first touch places each thread's share on its node. The executor keeps only
/// the packed weights: nothing refers to the `weights` dictionary once init returns, so a caller
/// that drops its own copy gets that memory back.
///
/// `run` is not reentrant: one forward pass at a time per executor.
public final class CompiledExecutor: Executor {
  public let program: Program
  public let module: LoadedModule
  public let plan: PlacementPlan
  public var name: String { program.mode.rawValue }

  private let team: ThreadTeam
  private let weightArenas: [Arena]
  private let activations: Arena
  /// `weightTables[copy * weightCount + w]`: where weight `w` of copy `copy` was packed.
  private let weightTables: UnsafeMutableBufferPointer<UnsafePointer<Float>?>
  /// The node (weight copy) of each thread, for a replicated module; nil when every thread reads copy 0.
  private let copyOfThread: UnsafeMutableBufferPointer<Int32>?
  private let context: OpaquePointer
  private var kernelSeconds: UnsafeMutableBufferPointer<Double>?

  /// Seconds per `program.kernels[i]` of the last run, when `enableKernelTiming()` was called.
  public private(set) var lastKernelSeconds: [Double]?

  /// Bytes of the weight arenas: every packed weight, 64-byte aligned, once per copy in use.
  public var packedWeightBytes: Int { weightArenas.reduce(0) { $0 + $1.byteCount } }

  /// Bytes of the activation arena (activations, inputs and outputs), whole pages.
  public var arenaBytes: Int { activations.byteCount }

  /// - Parameters:
  ///   - weights: every parameter slot of the program by name (`WeightSlot.name`) with the slot's
  ///     shape, as f32; slots with `bakedValues` come with the program.
  ///   - threads: team size (1...CPUs of the topology).
  ///   - topology: the machine to place threads and memory on; nil means this one (libnuma).
  ///   - cache: where the module is compiled and kept; nil means the cache under `KilnCacheDirectory`.
  public init(
    program: Program, weights: [String: RuntimeTensor], threads: Int, policy: NUMAPolicy = .local,
    topology: Topology? = nil, cache: ModuleCache? = nil
  ) throws {
    let rawWeights = try Self.rawWeights(of: program, from: weights)
    let module = try LoadedModule(program: program, cache: cache)
    guard module.weightCount == program.weights.count else {
      throw RuntimeError.unsupported(
        "module \(program.name): exports \(module.weightCount) weights, the program lists \(program.weights.count)")
    }
    guard module.arenaBytes <= program.arenaBytes else {
      throw RuntimeError.unsupported(
        "module \(program.name): addresses \(module.arenaBytes) arena bytes, the program plans \(program.arenaBytes)")
    }
    for value in program.inputs + program.outputs where value.byteOffset < 0 || value.byteOffset + value.byteCount > program.arenaBytes {
      throw RuntimeError.unsupported(
        "program \(program.name): '\(value.name)' at byte \(value.byteOffset) (\(value.byteCount) bytes) is outside the \(program.arenaBytes)-byte arena")
    }
    let plan = try PlacementPlan(topology: topology ?? Topology.current(), threads: threads, policy: policy)
    let team = try ThreadTeam(plan: plan)

    let layout = WeightLayout(floats: (0..<module.weightCount).map(module.packedWeightFloats))
    let copies = plan.weightCopyCount
    let copiesInUse = Set((0..<plan.threadCount).map(plan.weightCopy(forThread:)))
    var arenas: [Arena] = []
    let tables = UnsafeMutableBufferPointer<UnsafePointer<Float>?>.allocate(capacity: max(1, copies * layout.count))
    tables.initialize(repeating: nil)
    // A replicated copy on a node no thread runs on is never read, so it is never allocated.
    for copy in 0..<copies where copiesInUse.contains(copy) && layout.totalBytes > 0 {
      let arena: Arena
      do { arena = try Arena(byteCount: layout.totalBytes, placement: plan.placement(ofWeightCopy: copy), topology: plan.topology) } catch {
        tables.deallocate()
        throw error
      }
      for w in 0..<layout.count {
        tables[copy * layout.count + w] = UnsafePointer(arena.base.advanced(by: layout.offsets[w]).assumingMemoryBound(to: Float.self))
      }
      arenas.append(arena)
    }
    Self.pack(rawWeights, into: tables, weightCount: layout.count, module: module, team: team)

    let activations: Arena
    let copyOfThread: UnsafeMutableBufferPointer<Int32>?
    do {
      activations = try Arena.activations(byteCount: program.arenaBytes, plan: plan)
      try team.firstTouch(activations, regions: [ArenaRegion(offset: 0, rows: activations.byteCount / Arena.pageSize, rowBytes: Arena.pageSize)])
    } catch {
      tables.deallocate()
      throw error
    }
    if plan.policy == .replicate {
      let nodes = UnsafeMutableBufferPointer<Int32>.allocate(capacity: plan.threadCount)
      for thread in 0..<plan.threadCount { nodes[thread] = Int32(plan.weightCopy(forThread: thread)) }
      copyOfThread = nodes
    } else {
      copyOfThread = nil
    }
    guard
      let context = module.entryPoints.contextCreate(
        activations.base.assumingMemoryBound(to: UInt8.self), UnsafePointer(tables.baseAddress),
        copyOfThread.flatMap { UnsafePointer($0.baseAddress) }, Int32(plan.threadCount))
    else {
      tables.deallocate()
      copyOfThread?.deallocate()
      throw RuntimeError.system("module \(program.name): kiln_ctx_create failed (out of memory for the threads' scratch)")
    }
    self.program = program
    self.module = module
    self.plan = plan
    self.team = team
    self.weightArenas = arenas
    self.activations = activations
    self.weightTables = tables
    self.copyOfThread = copyOfThread
    self.context = context
  }

  deinit {
    team.shutdown()
    module.entryPoints.contextDestroy(context)
    weightTables.deallocate()
    copyOfThread?.deallocate()
    kernelSeconds?.deallocate()
  }

  /// Makes every later run record the seconds each scheduled kernel took (`lastKernelSeconds`,
  /// aligned with `program.kernels`). Needs a module whose timing slots are the program's kernels.
  public func enableKernelTiming() throws {
    guard kernelSeconds == nil else { return }
    guard module.kernelCount == program.kernels.count else {
      throw RuntimeError.unsupported(
        "module \(program.name): has \(module.kernelCount) timing slots, the program lists \(program.kernels.count) kernels")
    }
    let slots = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, module.kernelCount))
    slots.initialize(repeating: 0)
    kernelSeconds = slots
    module.entryPoints.contextSetTiming(context, slots.baseAddress)
  }

  public func run(_ inputs: [String: RuntimeTensor]) throws -> [String: RuntimeTensor] {
    try validate(inputs)
    for value in program.inputs {
      guard let tensor = inputs[value.name] else { continue }
      let destination = activations.base.advanced(by: value.byteOffset)
      switch tensor.storage {
      case .f32(let values): values.withUnsafeBytes { Self.copy($0, to: destination) }
      case .i32(let values): values.withUnsafeBytes { Self.copy($0, to: destination) }
      }
    }
    team.run(module.entryPoints.run, context: UnsafeMutableRawPointer(context))
    if let kernelSeconds { lastKernelSeconds = Array(kernelSeconds.prefix(program.kernels.count)) }
    return try Dictionary(uniqueKeysWithValues: program.outputs.map { ($0.name, try output($0)) })
  }

  // MARK: - Inputs and outputs

  private func validate(_ inputs: [String: RuntimeTensor]) throws {
    let expected = Set(program.inputs.map(\.name))
    if let unknown = inputs.keys.sorted().first(where: { !expected.contains($0) }) {
      throw RuntimeError.invalidFeed(
        "input '\(unknown)' is not an input of \(program.name) (its inputs: \(program.inputs.map(\.name).joined(separator: ", ")))")
    }
    for value in program.inputs {
      guard let tensor = inputs[value.name] else {
        throw RuntimeError.invalidFeed("input '\(value.name)' is missing (\(program.name) needs \(value.dtype) \(Shape(value.shape)))")
      }
      guard tensor.shape.dims == value.shape else {
        throw RuntimeError.invalidFeed("input '\(value.name)' has shape \(tensor.shape), \(program.name) needs \(Shape(value.shape))")
      }
      guard tensor.dtype == value.dtype, value.dtype == .f32 || value.dtype == .i32 else {
        throw RuntimeError.invalidFeed("input '\(value.name)' is \(tensor.dtype), \(program.name) needs \(value.dtype)")
      }
    }
  }

  private static func copy(_ bytes: UnsafeRawBufferPointer, to destination: UnsafeMutableRawPointer) {
    guard let source = bytes.baseAddress else { return }
    destination.copyMemory(from: source, byteCount: bytes.count)
  }

  private func output(_ value: ProgramValue) throws -> RuntimeTensor {
    let source = UnsafeRawPointer(activations.base.advanced(by: value.byteOffset))
    let count = value.shape.reduce(1, *)
    switch value.dtype {
    case .i32:
      return try RuntimeTensor(shape: Shape(value.shape), storage: .i32(Array(UnsafeBufferPointer(start: source.assumingMemoryBound(to: Int32.self), count: count))))
    case .f32:
      return try RuntimeTensor(shape: Shape(value.shape), storage: .f32(Array(UnsafeBufferPointer(start: source.assumingMemoryBound(to: Float.self), count: count))))
    case .f16, .bf16:
      throw RuntimeError.unsupported("output '\(value.name)' of \(program.name) is \(value.dtype); the runtime reads f32 and i32")
    }
  }

  // MARK: - Weights

  /// Each slot's raw values in slot order: the caller's tensor for a parameter, checked against the
  /// slot's shape, or the values the program carries for a folded constant.
  static func rawWeights(of program: Program, from weights: [String: RuntimeTensor]) throws -> [[Float]] {
    try program.weights.map { slot in
      if let baked = slot.bakedValues {
        guard baked.count == slot.shape.reduce(1, *) else {
          throw RuntimeError.unsupported(
            "program \(program.name): constant '\(slot.name)' carries \(baked.count) values for shape \(Shape(slot.shape))")
        }
        return baked
      }
      guard let tensor = weights[slot.name] else {
        throw RuntimeError.invalidWeights("tensor '\(slot.name)' is missing, the model needs \(Shape(slot.shape))")
      }
      guard tensor.shape.dims == slot.shape else {
        throw RuntimeError.invalidWeights("tensor '\(slot.name)' has shape \(tensor.shape), the model needs \(Shape(slot.shape))")
      }
      guard case .f32(let values) = tensor.storage else {
        throw RuntimeError.invalidWeights("tensor '\(slot.name)' is \(tensor.dtype), the model needs f32")
      }
      return values
    }
  }

  /// Packs every weight into every table in use. Each thread packs a share of the weights of the
  /// copy it reads, so under `replicate` a node's copy is written (and first touched) on that node.
  static func pack(
    _ raw: [[Float]], into tables: UnsafeMutableBufferPointer<UnsafePointer<Float>?>, weightCount: Int, module: LoadedModule,
    team: ThreadTeam
  ) {
    guard weightCount > 0 else { return }
    let plan = team.plan
    let copyOfThread = (0..<plan.threadCount).map(plan.weightCopy(forThread:))
    let pack = module.entryPoints.packWeight
    team.run { thread in
      let copy = copyOfThread[thread]
      let peers = copyOfThread.indices.filter { copyOfThread[$0] == copy }
      guard let rank = peers.firstIndex(of: thread) else { return }
      for w in stride(from: rank, to: weightCount, by: peers.count) {
        guard let destination = tables[copy * weightCount + w] else { continue }
        raw[w].withUnsafeBufferPointer { pack(Int32(w), $0.baseAddress, UnsafeMutablePointer(mutating: destination)) }
      }
    }
  }
}

/// Where each packed weight sits in a weight arena: back to back, each slot 64-byte aligned.
struct WeightLayout {
  static let alignment = 64
  let offsets: [Int]
  let totalBytes: Int
  var count: Int { offsets.count }

  init(floats: [Int]) {
    var offsets: [Int] = []
    var end = 0
    for count in floats {
      offsets.append(end)
      end += (count * MemoryLayout<Float>.stride + Self.alignment - 1) / Self.alignment * Self.alignment
    }
    self.offsets = offsets
    self.totalBytes = end
  }
}
