import Tracer

/// How a weight is laid out for its kernel. The emitted module packs it (`kiln_pack_weight`);
/// the runtime only provides the raw tensor as the graph declares it.
public enum WeightPacking: Hashable, Sendable, Codable {
  /// Used as stored (biases, norm scales, embedding tables, modulation tables).
  case plain
  /// The B operand of a GEMM: element (k, n) of B is raw[k·strideK + n·strideN]
  /// (a PyTorch Linear weight [N, K] has strideK = 1, strideN = K).
  case gemmB(k: Int, n: Int, strideK: Int, strideN: Int)
  /// An OIHW convolution weight, packed as the A operand of the implicit GEMM.
  case conv2d(outChannels: Int, inChannels: Int, kernelHeight: Int, kernelWidth: Int)
  /// An OIHW 3×3 convolution weight read after a nearest 2× upsampling: the four 2×2 phase
  /// kernels of `kiln_conv2d_upsample2x`, each packed as the A operand.
  case conv2dUpsample2x(outChannels: Int, inChannels: Int)
}

/// One weight the module reads: a checkpoint parameter, or a table Codegen computed at compile
/// time from constants (position embeddings, rotary tables), which the program carries itself.
public struct WeightSlot: Hashable, Sendable, Codable {
  /// The parameter's checkpoint name, or `constant.<node>` for a folded table.
  public var name: String
  public var shape: [Int]
  public var packing: WeightPacking
  /// The values of a folded constant table; nil for a parameter the runtime loads.
  public var bakedValues: [Float]?

  public init(name: String, shape: [Int], packing: WeightPacking, bakedValues: [Float]? = nil) {
    self.name = name
    self.shape = shape
    self.packing = packing
    self.bakedValues = bakedValues
  }

  public var isParameter: Bool { bakedValues == nil }
}

/// A graph input or output: where it lives in the arena.
public struct ProgramValue: Hashable, Sendable, Codable {
  public var name: String
  public var shape: [Int]
  public var dtype: DType
  public var byteOffset: Int

  public init(name: String, shape: [Int], dtype: DType, byteOffset: Int) {
    self.name = name
    self.shape = shape
    self.dtype = dtype
    self.byteOffset = byteOffset
  }

  public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
}

/// One scheduled kernel call, as the reports and `kiln compile --explain` show it.
public struct KernelSummary: Hashable, Sendable, Codable {
  /// The call's name in the schedule (`k12_gemm`).
  public var name: String
  /// The template family (`gemm`, `attention`, `rownorm`, `loop`, …).
  public var template: String
  /// The C function it calls; identical instances share one.
  public var function: String
  /// Distinct graph scopes the kernel covers (for reports; never read by the compiler).
  public var scopes: [String]
  /// The graph nodes it computes.
  public var nodes: [Int]
  public var flops: Int
  /// Bytes it must read and write at least once (operands, weights, outputs).
  public var bytes: Int

  public init(name: String, template: String, function: String, scopes: [String], nodes: [Int], flops: Int, bytes: Int) {
    self.name = name
    self.template = template
    self.function = function
    self.scopes = scopes
    self.nodes = nodes
    self.flops = flops
    self.bytes = bytes
  }
}

/// How the program was lowered.
public enum LoweringMode: String, Hashable, Sendable, Codable, CaseIterable {
  /// Patterns fused into the profile's templates.
  case compiled
  /// One textbook kernel per primitive, no fusion, no intrinsics: the honest naive baseline.
  case naive
}

/// What Codegen hands the runtime: one C translation unit and what it needs to run it.
public struct Program: Hashable, Sendable, Codable {
  public var name: String
  public var profile: HardwareProfile
  public var mode: LoweringMode
  public var weights: [WeightSlot]
  public var inputs: [ProgramValue]
  public var outputs: [ProgramValue]
  public var arenaBytes: Int
  /// The largest set of simultaneously live activations, the bound the arena is measured against.
  public var liveBytesLowerBound: Int
  public var kernels: [KernelSummary]
  /// Pattern kind → number of matches lowered to a fused kernel.
  public var patterns: [String: Int]
  /// The module's C source.
  public var source: String
  /// The optimization level the source is compiled with (`-O3` compiled, `-O2` naive).
  public var optimization: CCompiler.Optimization
  /// How many translation units the source splits into (`KILN_PART` 0 …), so the module cache
  /// can compile them side by side; 1 when the source is compiled whole.
  public var translationUnits: Int

  public init(name: String, profile: HardwareProfile, mode: LoweringMode, weights: [WeightSlot], inputs: [ProgramValue],
              outputs: [ProgramValue], arenaBytes: Int, liveBytesLowerBound: Int, kernels: [KernelSummary],
              patterns: [String: Int], source: String, optimization: CCompiler.Optimization, translationUnits: Int = 1) {
    self.name = name
    self.profile = profile
    self.mode = mode
    self.weights = weights
    self.inputs = inputs
    self.outputs = outputs
    self.arenaBytes = arenaBytes
    self.liveBytesLowerBound = liveBytesLowerBound
    self.kernels = kernels
    self.patterns = patterns
    self.source = source
    self.optimization = optimization
    self.translationUnits = max(1, translationUnits)
  }

  public var flops: Int { kernels.reduce(0) { $0 + $1.flops } }
}
