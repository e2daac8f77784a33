import Foundation

/// One side of a kernel benchmark (Kiln with or without its epilogue, OpenBLAS, eager-blas) on one
/// shape and team size: every sample kept.
public struct KernelFigure: Codable, Sendable, Equatable {
  public var msMedian: Double
  public var minMs: Double
  public var maxMs: Double
  public var spread: Double
  public var trustworthy: Bool
  public var samplesMs: [Double]
  /// The shape's FLOPs (2·M·N·K, or 4·B·H·Sq·Skv·D) over the median.
  public var gflops: Double
  public var percentOfPeak: Double
  /// How far a re-run's median may land from this one: the larger of `spread` and `noiseFloor`,
  /// the floor of its team size's class for one visit (the samples are taken back to back).
  /// Absent in reports written before floors.
  public var noise: Double?
  public var noiseFloor: Double?

  /// The noise, or the spread for a report written before floors.
  public var measuredNoise: Double { noise ?? spread }

  init?(seconds: [Double], flops: Int, peak: Double, threshold: Double) {
    guard let statistics = SampleStatistics(seconds)?.scaled(by: 1e3) else { return nil }
    msMedian = statistics.median
    minMs = statistics.min
    maxMs = statistics.max
    spread = statistics.spread
    trustworthy = statistics.isTrustworthy(threshold: threshold)
    samplesMs = statistics.samples
    gflops = statistics.median > 0 ? Double(flops) / (statistics.median * 1e-3) / 1e9 : 0
    percentOfPeak = peak > 0 ? 100 * gflops / peak : 0
  }
}

/// The targets of issue 8 the tables show beside the measured values.
public struct KernelTargets: Codable, Sendable, Equatable {
  /// Kiln's GEMM with its epilogue, % of the one-core peak on one thread.
  public var gemmPercentOfPeakOneThread = 90.0
  /// … and of the team's peak on more threads (the issue states it for two).
  public var gemmPercentOfPeakMoreThreads = 88.0
  /// Kiln's bare GEMM over OpenBLAS's sgemm on the same shape (OpenBLAS ms / Kiln ms).
  public var gemmVsOpenBLAS = 1.0
  public var attentionPercentOfPeak = 60.0
  /// eager-blas ms / Kiln ms.
  public var attentionVsEager = 2.0

  public init() {}

  public func gemmPercentOfPeak(threads: Int) -> Double {
    threads <= 1 ? gemmPercentOfPeakOneThread : gemmPercentOfPeakMoreThreads
  }
}

public struct GemmBenchmarkRow: Codable, Sendable, Equatable {
  public var m: Int
  public var n: Int
  public var k: Int
  public var batch: Int
  public var epilogue: String
  public var threads: Int
  /// 2·M·N·K.
  public var flops: Int
  /// The compute ceiling the percentages are of (one-core peak × threads, capped at all cores).
  public var peakGflops: Double
  /// Kiln with the shape's epilogue; absent when the epilogue is `none` (then `kiln` is the figure).
  public var kilnEpilogue: KernelFigure?
  /// The kernels Kiln's epilogue program runs, by template (`["gemm"]` when the epilogue is fused).
  public var kilnEpilogueKernels: [String]?
  /// Kiln without epilogue.
  public var kiln: KernelFigure
  public var openBLAS: KernelFigure
  /// Whether OpenBLAS's threads ran pinned to the CPUs of Kiln's team.
  public var openBLASPinned: Bool
  /// OpenBLAS median / Kiln's bare median: above 1, Kiln is faster.
  public var kilnVsOpenBLAS: Double
  /// OpenBLAS's bare median / Kiln's median with the epilogue.
  public var kilnEpilogueVsOpenBLAS: Double?
  /// Kiln with the epilogue (or bare, for `none`) reaches the % of peak target.
  public var meetsPeakTarget: Bool
  public var meetsOpenBLASTarget: Bool
  /// ‖Kiln − OpenBLAS‖₂ / ‖OpenBLAS‖₂ of the bare product, from one untimed run of each.
  public var parityError: Double

  /// The Kiln figure the peak target is judged on: with the epilogue, as the models run it.
  public var headline: KernelFigure { kilnEpilogue ?? kiln }
}

public struct AttentionBenchmarkRow: Codable, Sendable, Equatable {
  public var label: String
  public var batch: Int
  public var heads: Int
  public var queries: Int
  public var keys: Int
  public var headDim: Int
  public var threads: Int
  /// 4·B·H·Sq·Skv·D (the two GEMMs).
  public var flops: Int
  /// What `GraphStatistics` counts for the same graph (the GEMMs plus the scale and the softmax).
  public var graphFlops: Int
  public var peakGflops: Double
  public var kiln: KernelFigure
  /// The kernels Kiln runs, by template (`["attention"]` when the fused template was chosen).
  public var kilnKernels: [String]
  public var eagerBLAS: KernelFigure
  /// eager-blas median / Kiln median.
  public var speedupVsEager: Double
  public var meetsPeakTarget: Bool
  public var meetsEagerTarget: Bool
  /// ‖Kiln − eager-blas‖₂ / ‖eager-blas‖₂, from one untimed run of each.
  public var parityError: Double
}

/// `kernelBenchmarks` of report.json: present when the suite has a `kernelBenchmarks` entry.
public struct KernelBenchmarkSection: Codable, Sendable, Equatable {
  public var label: String
  /// The profile Kiln's kernels were lowered for.
  public var profile: String
  /// OpenBLAS's core type and who chose it.
  public var openBLAS: String
  public var warmups: Int
  public var repetitions: Int
  /// How each side was timed and how FLOPs were counted, in words.
  public var method: [String]
  public var targets: KernelTargets
  public var gemm: [GemmBenchmarkRow]
  public var attention: [AttentionBenchmarkRow]
}

extension KernelBenchmarkSection {
  /// Every timed side of every row, named as the report's time table and `kiln report compare` name it.
  var sides: [(benchmark: String, threads: Int, side: String, figure: KernelFigure)] {
    var sides: [(benchmark: String, threads: Int, side: String, figure: KernelFigure)] = []
    for row in gemm {
      let shape = "gemm \(row.m)×\(row.n)×\(row.k) \(row.epilogue)"
      sides.append((shape, row.threads, "Kiln", row.kiln))
      if let epilogue = row.kilnEpilogue { sides.append((shape, row.threads, "Kiln + epilogue", epilogue)) }
      sides.append((shape, row.threads, "OpenBLAS", row.openBLAS))
    }
    for row in attention {
      sides.append(("attention " + row.label, row.threads, "Kiln", row.kiln))
      sides.append(("attention " + row.label, row.threads, "eager-blas", row.eagerBLAS))
    }
    return sides
  }
}

// MARK: Tables

extension ReportWriter {
  static let kernelGemmTitle = "Kernel benchmarks: GEMM (Kiln compiled against OpenBLAS sgemm, interleaved)"
  static let kernelAttentionTitle = "Kernel benchmarks: attention (Kiln fused against eager-blas materialized, interleaved)"

  /// `✓ 91.2 (≥ 90)`: a figure with its target.
  static func against(_ value: Double, target: Double, met: Bool, unit: String = "") -> String {
    (met ? "✓ " : "✗ ") + number(value, unit == "×" ? 2 : 1) + unit + " (≥ " + number(target, unit == "×" ? 2 : 0) + unit + ")"
  }

  /// The GEMM and attention tables; none when the suite had no kernel benchmarks.
  static func kernelBenchmarkTables(_ report: BenchReport) -> [ReportTable] {
    guard let section = report.kernelBenchmarks else { return [] }
    let targets = section.targets
    var tables: [ReportTable] = []
    if !section.gemm.isEmpty {
      tables.append(ReportTable(
        title: kernelGemmTitle,
        header: ["M×N×K", "epilogue", "threads", "Kiln + epilogue GFLOP/s", "% peak (target)", "Kiln kernels", "Kiln GFLOP/s",
                 "% peak", "OpenBLAS GFLOP/s", "% peak", "Kiln / OpenBLAS (target)", "Kiln + epilogue / OpenBLAS"],
        rows: section.gemm.map { row in
          let headline = row.headline
          return ["\(row.m)×\(row.n)×\(row.k)" + (row.batch > 1 ? " (batch \(row.batch))" : ""), row.epilogue, String(row.threads),
                  row.kilnEpilogue.map { number($0.gflops, 1) + mark($0.trustworthy) } ?? "–",
                  against(headline.percentOfPeak, target: targets.gemmPercentOfPeak(threads: row.threads), met: row.meetsPeakTarget),
                  row.kilnEpilogueKernels?.joined(separator: " + ") ?? "–",
                  number(row.kiln.gflops, 1) + mark(row.kiln.trustworthy), number(row.kiln.percentOfPeak, 1),
                  number(row.openBLAS.gflops, 1) + mark(row.openBLAS.trustworthy), number(row.openBLAS.percentOfPeak, 1),
                  against(row.kilnVsOpenBLAS, target: targets.gemmVsOpenBLAS, met: row.meetsOpenBLASTarget, unit: "×"),
                  row.kilnEpilogueVsOpenBLAS.map { number($0) + "×" } ?? "–"]
        }))
    }
    if !section.attention.isEmpty {
      tables.append(ReportTable(
        title: kernelAttentionTitle,
        header: ["shape", "B", "H", "Sq×Skv", "D", "threads", "Kiln GFLOP/s", "% peak (target)", "Kiln kernels", "eager-blas GFLOP/s",
                 "% peak", "speedup (target)"],
        rows: section.attention.map { row in
          [row.label, String(row.batch), String(row.heads), "\(row.queries)×\(row.keys)", String(row.headDim), String(row.threads),
           number(row.kiln.gflops, 1) + mark(row.kiln.trustworthy),
           against(row.kiln.percentOfPeak, target: targets.attentionPercentOfPeak, met: row.meetsPeakTarget),
           row.kilnKernels.joined(separator: " + "),
           number(row.eagerBLAS.gflops, 1) + mark(row.eagerBLAS.trustworthy), number(row.eagerBLAS.percentOfPeak, 1),
           against(row.speedupVsEager, target: targets.attentionVsEager, met: row.meetsEagerTarget, unit: "×")]
        }))
    }
    if !tables.isEmpty {
      tables.append(kernelBenchmarkTimesTable(section))
      tables[0].caption = ["\(section.label): profile \(section.profile), \(section.openBLAS); \(section.warmups) warm-up round(s), "
        + "\(section.repetitions) timed rounds, one sample of each side per round."] + section.method
    }
    return tables
  }

  /// Every side's median time and noise: the figures `kiln report compare` compares.
  static func kernelBenchmarkTimesTable(_ section: KernelBenchmarkSection) -> ReportTable {
    ReportTable(title: "Kernel benchmarks: time and noise", header: ["benchmark", "threads", "side", "ms (median)", "runs", "spread", "noise"],
                rows: section.sides.map { entry in
                  [entry.benchmark, String(entry.threads), entry.side, number(entry.figure.msMedian, 3) + mark(entry.figure.trustworthy),
                   String(entry.figure.samplesMs.count), number(100 * entry.figure.spread, 1) + " %",
                   noiseCell(entry.figure.measuredNoise, floor: entry.figure.noiseFloor)]
                })
  }

  /// The kernel benchmark tables alone, in Markdown, with how they were measured: what `kiln bench` prints.
  public static func kernelBenchmarkMarkdown(_ report: BenchReport) -> String {
    kernelBenchmarkTables(report).map { table in
      "## \(table.title)\n\n" + table.caption.map { $0 + "\n" }.joined() + (table.caption.isEmpty ? "" : "\n") + markdownRows(table)
    }.joined(separator: "\n")
  }

  static func markdownRows(_ table: ReportTable) -> String {
    var out = "| " + table.header.map(markdownCell).joined(separator: " | ") + " |\n"
    out += "|" + table.header.map { _ in " --- " }.joined(separator: "|") + "|\n"
    for row in table.rows { out += "| " + row.map(markdownCell).joined(separator: " | ") + " |\n" }
    return out
  }
}
