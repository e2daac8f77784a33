import Foundation

/// What `kiln bench` measured, as written to `report.json` (schema in bench/README.md) and
/// rendered into `report.md` and `report.html`.
public struct BenchReport: Codable, Sendable, Equatable {
  public static let formatVersion = 1

  public var kilnReport: Int
  public var suite: SuiteSummary
  public var createdAt: String
  public var durationSeconds: Double
  /// Noise (the larger of the within-round spread and the between-round drift; the spread in
  /// reports written before rounds) above which a figure is marked not trustworthy.
  public var spreadThreshold: Double
  public var host: HostSection
  public var models: [ModelSection]
  /// Per-kernel times of the compiled executor, instances of one kernel function summed.
  public var kernels: [KernelRow]
  public var generation: GenerationSection
  /// What the run skipped or did on its own (a profile the host cannot run, ceilings measured now).
  public var notes: [String]
  /// GEMMs and attentions against OpenBLAS; absent when the suite has no `kernelBenchmarks` entry.
  public var kernelBenchmarks: KernelBenchmarkSection?
  /// Cold and warm compile times; absent when the suite has no `compile` entry.
  public var compile: [CompileRow]?
  /// The noise floor of each class of figures, pooled over the run (`NoiseFloor`); absent in
  /// reports written before floors, and for a class too few figures were measured in rounds for.
  public var noiseFloors: [NoiseFloor]?

  enum CodingKeys: String, CodingKey {
    case kilnReport = "kiln-report"
    case suite, createdAt, durationSeconds, spreadThreshold, host, models, kernels, generation, notes, kernelBenchmarks, compile
    case noiseFloors
  }

  /// Reads a report written by `kiln bench`, refusing another format version with its name.
  public init(contentsOf url: URL) throws {
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw BenchError.unreadable(url.path, error.localizedDescription) }
    do { self = try JSONDecoder().decode(BenchReport.self, from: data) } catch let DecodingError.keyNotFound(key, context) {
      let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
      throw BenchError.malformedReport(url.lastPathComponent, "missing field '\(path)'")
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context), let DecodingError.dataCorrupted(context) {
      let path = context.codingPath.map(\.stringValue).joined(separator: ".")
      throw BenchError.malformedReport(url.lastPathComponent, path.isEmpty ? "not a Kiln report" : "field '\(path)': \(context.debugDescription)")
    }
    guard kilnReport == Self.formatVersion else {
      throw BenchError.malformedReport(url.lastPathComponent, "kiln-report version \(kilnReport) is not \(Self.formatVersion)")
    }
  }

  public init(suite: SuiteSummary, createdAt: String, durationSeconds: Double, spreadThreshold: Double, host: HostSection,
              models: [ModelSection], kernels: [KernelRow], generation: GenerationSection, notes: [String],
              kernelBenchmarks: KernelBenchmarkSection? = nil, compile: [CompileRow]? = nil, noiseFloors: [NoiseFloor]? = nil) {
    kilnReport = Self.formatVersion
    self.suite = suite
    self.createdAt = createdAt
    self.durationSeconds = durationSeconds
    self.spreadThreshold = spreadThreshold
    self.host = host
    self.models = models
    self.kernels = kernels
    self.generation = generation
    self.notes = notes
    self.kernelBenchmarks = kernelBenchmarks
    self.compile = compile
    self.noiseFloors = noiseFloors
  }

  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(self)
  }
}

public struct SuiteSummary: Codable, Sendable, Equatable {
  public var name: String
  public var file: String
  public var description: String
  /// How many rounds the suite went through (absent in reports written before rounds: one).
  public var rounds: Int?
}

public struct PeakGflops: Codable, Sendable, Equatable {
  public var oneCore: Double
  public var allCores: Double
}

public struct HostSection: Codable, Sendable, Equatable {
  public var name: String
  public var cpu: String
  /// The profile the headline figures and the roofline use (the suite's first).
  public var profile: String
  /// The built-in profile `native` resolved to, when it is native.
  public var profileBasedOn: String?
  public var cores: Int
  public var numaNodes: Int
  public var peakGflops: PeakGflops
  public var bandwidthGBs: Double
  public var ceilingsMeasuredAt: String
  /// `stored` (from `kiln profile --measure`) or `measured for this report`.
  public var ceilingsSource: String
  public var compiler: String
  public var cFlags: [String]
  public var openBLAS: String

  /// The compute ceiling for a team of `threads`: measured for one core and for all; in between,
  /// the one-core figure times the team, never above the all-cores figure.
  public func peak(threads: Int) -> Double {
    if threads <= 1 { return peakGflops.oneCore }
    if threads >= cores { return peakGflops.allCores }
    return Swift.min(peakGflops.oneCore * Double(threads), peakGflops.allCores)
  }

  /// FLOPs per byte where the roofline's two ceilings meet.
  public func ridge(threads: Int) -> Double { bandwidthGBs > 0 ? peak(threads: threads) / bandwidthGBs : 0 }
}

/// One executor on one model, at one profile, team size and NUMA policy: every sample kept.
public struct CaseResult: Codable, Sendable, Equatable {
  public var executor: String
  /// nil for eager-blas, which no profile or NUMA policy applies to.
  public var profile: String?
  public var threads: Int
  public var numa: String?
  public var warmups: Int
  public var repetitions: Int
  /// Median milliseconds per forward pass (one denoising step).
  public var msPerStep: Double
  public var minMs: Double
  public var maxMs: Double
  public var spread: Double
  /// Whether `noise` is within the threshold.
  public var trustworthy: Bool
  public var samplesMs: [Double]
  /// The model's FLOPs over the median time.
  public var gflops: Double
  /// Seconds to build the executor (compile or cache hit, load, pack weights); the first round's.
  public var buildSeconds: Double
  // Rounds (absent in reports written before them, whose only measure of noise is `spread`).
  /// The round (1-based) of each entry of `samplesMs`.
  public var sampleRounds: [Int]?
  /// The median of each round that took samples, in round order.
  public var roundMediansMs: [Double]?
  /// The largest (max − min) / median within one round.
  public var withinRoundSpread: Double?
  /// (largest − smallest round median) / median; absent when one round took every sample.
  public var betweenRoundDrift: Double?
  /// How far a re-run's median may land from this one: the larger of `withinRoundSpread`,
  /// `betweenRoundDrift` and `noiseFloor`.
  public var noise: Double?
  /// What the executor held in memory (compiled cases).
  public var memory: MemoryFigures?
  /// Its class's floor for a median over its rounds (`BenchReport.noiseFloors`); absent when the
  /// class had too few figures measured in rounds, and in reports written before floors.
  public var noiseFloor: Double?

  /// The noise, or the spread for a report written before rounds.
  public var measuredNoise: Double { noise ?? spread }
}

public struct Speedup: Codable, Sendable, Equatable {
  /// Naive's median over compiled's: how many times faster compiled runs.
  public var vsNaive: Double?
  public var vsEagerBlas: Double?
}

public struct ThreadScaling: Codable, Sendable, Equatable {
  public var executor: String
  public var profile: String?
  public var threads: Int
  public var oneThreadMs: Double
  public var allThreadsMs: Double
  /// oneThreadMs / allThreadsMs; `threads` would be perfect scaling.
  public var speedup: Double
  public var trustworthy: Bool
}

public struct ModelSection: Codable, Sendable, Equatable {
  public var name: String
  public var model: String
  public var config: String
  public var overrides: [String: String]
  public var family: String
  public var flops: Int
  /// Weights + inputs + outputs: what a step must move at least once.
  public var compulsoryBytes: Int
  public var arithmeticIntensity: Double
  /// Every measurement of this model.
  public var cases: [CaseResult]
  /// Headline per executor: the first profile and NUMA policy, the largest team.
  public var executors: [String: CaseResult]
  public var speedup: Speedup
  public var threadScaling: [ThreadScaling]
  /// The compiled executor at the largest team under each profile the host ran.
  public var profiles: [String: CaseResult]
  /// The peer runtimes the suite named, timed sample by sample with the headline compiled case.
  public var peers: [PeerRow] = []
}

extension ModelSection {
  /// Reports written before peers existed have no `peers` key: they read as having none.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    model = try container.decode(String.self, forKey: .model)
    config = try container.decode(String.self, forKey: .config)
    overrides = try container.decode([String: String].self, forKey: .overrides)
    family = try container.decode(String.self, forKey: .family)
    flops = try container.decode(Int.self, forKey: .flops)
    compulsoryBytes = try container.decode(Int.self, forKey: .compulsoryBytes)
    arithmeticIntensity = try container.decode(Double.self, forKey: .arithmeticIntensity)
    cases = try container.decode([CaseResult].self, forKey: .cases)
    executors = try container.decode([String: CaseResult].self, forKey: .executors)
    speedup = try container.decode(Speedup.self, forKey: .speedup)
    threadScaling = try container.decode([ThreadScaling].self, forKey: .threadScaling)
    profiles = try container.decode([String: CaseResult].self, forKey: .profiles)
    peers = try container.decodeIfPresent([PeerRow].self, forKey: .peers) ?? []
  }
}

/// One peer runtime (ONNX Runtime, OpenVINO) on one model: the optimized graph Kiln runs, its
/// weights and inputs, exported to ONNX; samples taken alternately with Kiln's compiled executor.
public struct PeerRow: Codable, Sendable, Equatable {
  public var peer: String
  /// nil when the peer could not be loaded.
  public var version: String?
  /// As the peer reports them applied (threads, precision, optimization level…).
  public var settings: [String: String]
  public var threads: Int
  public var warmups: Int
  public var repetitions: Int
  /// Median milliseconds per forward pass; absent when the peer did not run.
  public var msPerStep: Double?
  public var minMs: Double?
  public var maxMs: Double?
  public var spread: Double?
  public var trustworthy: Bool
  public var samplesMs: [Double]
  public var gflops: Double?
  public var percentOfPeak: Double?
  /// The compiled executor's median over the same interleaved run.
  public var compiledMs: Double?
  /// Peer median over compiled median: how many times faster compiled ran. Absent when parity
  /// failed (the export may be wrong, so the timings mean nothing) or either side has no time.
  public var compiledSpeedup: Double?
  /// ‖peer − compiled‖₂ / ‖compiled‖₂ over every output.
  public var parityError: Double?
  public var parityTolerance: Double?
  public var parityPassed: Bool
  /// Why the peer has no figures (export, load or run failure).
  public var error: String?
  /// Rounds, as in `CaseResult` (absent in reports written before them, or when the peer did not run).
  public var sampleRounds: [Int]?
  public var roundMediansMs: [Double]?
  public var withinRoundSpread: Double?
  public var betweenRoundDrift: Double?
  public var noise: Double?
  /// As in `CaseResult`.
  public var noiseFloor: Double?

  public init(peer: String, version: String?, settings: [String: String], threads: Int, warmups: Int, repetitions: Int,
              msPerStep: Double?, minMs: Double?, maxMs: Double?, spread: Double?, trustworthy: Bool, samplesMs: [Double],
              gflops: Double?, percentOfPeak: Double?, compiledMs: Double?, compiledSpeedup: Double?, parityError: Double?,
              parityTolerance: Double?, parityPassed: Bool, error: String?) {
    self.peer = peer
    self.version = version
    self.settings = settings
    self.threads = threads
    self.warmups = warmups
    self.repetitions = repetitions
    self.msPerStep = msPerStep
    self.minMs = minMs
    self.maxMs = maxMs
    self.spread = spread
    self.trustworthy = trustworthy
    self.samplesMs = samplesMs
    self.gflops = gflops
    self.percentOfPeak = percentOfPeak
    self.compiledMs = compiledMs
    self.compiledSpeedup = compiledSpeedup
    self.parityError = parityError
    self.parityTolerance = parityTolerance
    self.parityPassed = parityPassed
    self.error = error
  }
}

public struct KernelRow: Codable, Sendable, Equatable {
  public var model: String
  /// The first scheduled instance's name; `calls` instances share the function.
  public var name: String
  public var function: String
  public var template: String
  public var calls: Int
  /// Per call.
  public var flops: Int
  /// Per call.
  public var bytes: Int
  public var arithmeticIntensity: Double
  /// Median over repetitions of the seconds all calls took together.
  public var seconds: Double
  public var spread: Double
  /// Whether `noise` (`spread` in reports written before rounds) is within the threshold.
  public var trustworthy: Bool
  /// As for a case: the larger of the within-round spread, the between-round drift and the floor.
  public var noise: Double?
  public var gflops: Double
  public var percentOfPeak: Double
  /// `compute` or `memory`: which side of the ridge point its arithmetic intensity falls.
  public var bound: String
  public var threads: Int
  /// The median seconds of each round that timed the kernel; absent in reports written before floors.
  public var roundMedianSeconds: [Double]? = nil
  /// As in `CaseResult`, from the kernels' own class (the per-kernel timer).
  public var noiseFloor: Double? = nil
}

/// The figures of one end-to-end generation, as the generation pipeline reports them.
public struct GenerationFigures: Codable, Sendable, Equatable {
  public var steps: Int
  public var secondsPerStep: Double
  public var denoiseSeconds: Double
  public var vaeSeconds: Double
  /// Weights, packing and modules (from the kernel cache, or compiled); absent in older reports.
  public var setupSeconds: Double?
  public var totalSeconds: Double
  public var gflops: Double
  public var imagesPerMinute: Double?
  public var framesPerMinute: Double?

  public init(steps: Int, secondsPerStep: Double, denoiseSeconds: Double, vaeSeconds: Double, setupSeconds: Double? = nil,
              totalSeconds: Double, gflops: Double, imagesPerMinute: Double? = nil, framesPerMinute: Double? = nil) {
    self.setupSeconds = setupSeconds
    self.steps = steps
    self.secondsPerStep = secondsPerStep
    self.denoiseSeconds = denoiseSeconds
    self.vaeSeconds = vaeSeconds
    self.totalSeconds = totalSeconds
    self.gflops = gflops
    self.imagesPerMinute = imagesPerMinute
    self.framesPerMinute = framesPerMinute
  }
}

public struct GenerationRow: Codable, Sendable, Equatable {
  public var name: String
  public var model: String
  public var executor: String
  public var profile: String
  public var threads: Int
  /// The repetition with the median total time.
  public var median: GenerationFigures
  public var samples: [GenerationFigures]
  /// Spread of the total time over the repetitions.
  public var spread: Double
  public var trustworthy: Bool
  /// The round each sample was taken in, the median total of each round, and the noise of the
  /// total (the larger of the within-round spread and the between-round drift); absent in reports
  /// written before generation was measured in rounds.
  public var sampleRounds: [Int]?
  public var roundMediansSeconds: [Double]?
  public var noise: Double?
  public var warmups: Int?
  public var targetSeconds: Double?
  public var meetsTarget: Bool?
  /// As in `CaseResult`: the floor of its team size's class, included in `noise`.
  public var noiseFloor: Double?

  /// The noise a comparison should allow: the rounds' when measured in rounds, else the spread.
  public var measuredNoise: Double { noise ?? spread }
}

/// Compile time of one model: each sample a cold compile into an empty kernel cache, then a warm
/// one against that cache (trace, graph passes, lowering, cache lookup), as `kiln compile` does.
public struct CompileRow: Codable, Sendable, Equatable {
  public var name: String
  public var model: String
  public var profile: String
  public var kernels: Int
  public var translationUnits: Int
  public var coldSeconds: TimedFigure
  public var warmSeconds: TimedFigure
  public var coldTargetSeconds: Double?
  public var warmTargetSeconds: Double?
  public var meetsColdTarget: Bool?
  public var meetsWarmTarget: Bool?
}

/// One figure measured in rounds: the median and every sample with its round.
public struct TimedFigure: Codable, Sendable, Equatable {
  public var median: Double
  public var min: Double
  public var max: Double
  public var samples: [Double]
  public var sampleRounds: [Int]
  public var roundMedians: [Double]
  /// The larger of the rounds' own noise and `noiseFloor`.
  public var noise: Double
  public var trustworthy: Bool
  /// As in `CaseResult`: the floor of the all-cores class (the compiler runs its translation units in parallel).
  public var noiseFloor: Double?

  init?(_ samples: [Double], rounds: [Int], threshold: Double) {
    guard let statistics = RoundStatistics(samples, rounds: rounds) else { return nil }
    median = statistics.all.median
    min = statistics.all.min
    max = statistics.all.max
    self.samples = samples
    sampleRounds = rounds
    roundMedians = statistics.roundMedians
    noise = statistics.noise
    trustworthy = statistics.isTrustworthy(threshold: threshold)
  }
}

public struct GenerationSection: Codable, Sendable, Equatable {
  /// Whether this build could run end-to-end generation.
  public var available: Bool
  public var rows: [GenerationRow]
}
