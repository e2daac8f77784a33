/// What a compiled executor holds in memory, and the peak resident memory it added while it was
/// built and run, against the budget Kiln holds itself to: 1.25 × (packed weights + arena) + 64 MiB.
public struct MemoryFigures: Codable, Sendable, Equatable {
  public static let budgetFactor = 1.25
  public static let budgetSlackBytes = 64 << 20

  /// The weight arenas: every weight in its packed layout, once per copy in use.
  public var packedWeightBytes: Int
  /// The activation arena (activations, inputs, outputs).
  public var arenaBytes: Int
  /// The process's high-water mark after the runs minus its resident set right before the
  /// executor was built (the mark reset then): what building and running it added at its peak.
  public var peakResidentBytes: Int
  /// 1.25 × (packedWeightBytes + arenaBytes) + 64 MiB.
  public var budgetBytes: Int
  public var withinBudget: Bool

  public init(packedWeightBytes: Int, arenaBytes: Int, peakResidentBytes: Int) {
    self.packedWeightBytes = packedWeightBytes
    self.arenaBytes = arenaBytes
    self.peakResidentBytes = peakResidentBytes
    budgetBytes = Self.budget(packedWeightBytes: packedWeightBytes, arenaBytes: arenaBytes)
    withinBudget = peakResidentBytes <= budgetBytes
  }

  public static func budget(packedWeightBytes: Int, arenaBytes: Int) -> Int {
    Int((budgetFactor * Double(packedWeightBytes + arenaBytes)).rounded(.up)) + budgetSlackBytes
  }

  /// The measurement of the two with the higher peak (rounds measure one executor several times).
  public static func worse(_ a: MemoryFigures?, _ b: MemoryFigures?) -> MemoryFigures? {
    guard let a else { return b }
    guard let b else { return a }
    return b.peakResidentBytes > a.peakResidentBytes ? b : a
  }
}

extension ReportWriter {
  static let memoryTitle = "Memory (compiled: peak resident memory added by building and running the executor)"

  /// One row per compiled case that measured its memory.
  static func memoryTable(_ report: BenchReport) -> ReportTable {
    func mebibytes(_ bytes: Int) -> String { number(Double(bytes) / Double(1 << 20), 1) }
    let rows = report.models.flatMap { model in
      model.cases.compactMap { result -> [String]? in
        guard let memory = result.memory else { return nil }
        return [model.name, result.profile ?? "–", result.numa ?? "–", String(result.threads), mebibytes(memory.packedWeightBytes),
                mebibytes(memory.arenaBytes), mebibytes(memory.peakResidentBytes), mebibytes(memory.budgetBytes),
                number(memory.budgetBytes > 0 ? 100 * Double(memory.peakResidentBytes) / Double(memory.budgetBytes) : 0, 0) + " %",
                memory.withinBudget ? "yes" : "NO, over budget"]
      }
    }
    return ReportTable(title: memoryTitle, header: ["model", "profile", "numa", "threads", "packed weights MiB", "arena MiB",
                                                     "peak added MiB", "budget MiB", "peak / budget", "within budget"], rows: rows,
                       caption: [memoryExplanation])
  }

  static var memoryExplanation: String {
    "Peak added = the process's high-water mark (VmHWM) after the executor's runs minus its resident set (VmRSS) right before the "
      + "executor was built, the mark reset then (the bench's own unpacked seeded weights are held before, so they are not counted); "
      + "the largest over the rounds. Budget = 1.25 × (packed weights + arena) + 64 MiB."
  }
}
