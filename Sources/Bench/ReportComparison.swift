import Foundation

/// What changed between two reports, per model/executor/profile/threads and per kernel.
public struct ReportComparison: Sendable {
  public enum Verdict: String, Sendable {
    case regression, improvement, unchanged
  }

  public struct Change: Sendable {
    public var subject: String
    public var oldMs: Double
    public var newMs: Double
    /// newMs / oldMs − 1: positive is slower.
    public var relativeChange: Double
    /// The change a difference must exceed to count: the threshold or the two reports' noise
    /// (their spread for a report written before rounds), whichever is larger.
    public var noise: Double
    public var verdict: Verdict
  }

  public var changes: [Change]
  /// Subjects in one report only.
  public var onlyOld: [String]
  public var onlyNew: [String]
  /// Kernel figures under `kernelResolutionMs` in either report, not compared.
  public var belowResolution: [String]

  /// Per-kernel times come from timestamps around every kernel, and a preemption of the machine
  /// (milliseconds on a VM) lands on whichever kernel is running: a kernel that takes less than
  /// this per step can change by multiples from one such event, so it is not compared, in either
  /// report: a kernel under it in one report has no figure there that a change can be measured
  /// against (a step's total still shows what it adds).
  public static let defaultKernelResolutionMs = 1.0

  public var regressions: [Change] { changes.filter { $0.verdict == .regression } }
  public var improvements: [Change] { changes.filter { $0.verdict == .improvement } }

  /// `threshold` is a fraction (0.05 = 5 %). A change beyond both the threshold and the noise the
  /// two measurements reported (`CaseResult.noise`: the larger of the within-round spread and the
  /// between-round drift) is a regression or an improvement.
  public init(old: BenchReport, new: BenchReport, threshold: Double, kernelResolutionMs: Double = defaultKernelResolutionMs) {
    var oldFigures = Self.figures(old)
    var newFigures = Self.figures(new)
    belowResolution = oldFigures.keys.filter { subject in
      guard let before = oldFigures[subject], before.isKernel, let after = newFigures[subject] else { return false }
      return before.ms < kernelResolutionMs || after.ms < kernelResolutionMs
    }.sorted()
    for subject in belowResolution {
      oldFigures[subject] = nil
      newFigures[subject] = nil
    }
    changes = newFigures.compactMap { subject, fresh in
      guard let previous = oldFigures[subject], previous.ms > 0 else { return nil }
      let relative = fresh.ms / previous.ms - 1
      let noise = Swift.max(threshold, previous.noise, fresh.noise)
      let verdict: Verdict = relative > noise ? .regression : relative < -noise / (1 + noise) ? .improvement : .unchanged
      return Change(subject: subject, oldMs: previous.ms, newMs: fresh.ms, relativeChange: relative, noise: noise, verdict: verdict)
    }.sorted { $0.subject < $1.subject }
    onlyOld = oldFigures.keys.filter { newFigures[$0] == nil }.sorted()
    onlyNew = newFigures.keys.filter { oldFigures[$0] == nil }.sorted()
  }

  /// One comparable figure: milliseconds, its noise (the spread for a report written before
  /// rounds), and whether it is a per-kernel time (subject to `kernelResolutionMs`).
  typealias Figure = (ms: Double, noise: Double, isKernel: Bool)

  /// Every comparable figure of a report by a stable subject name.
  static func figures(_ report: BenchReport) -> [String: Figure] {
    var figures: [String: Figure] = [:]
    for model in report.models {
      for result in model.cases {
        var subject = "\(model.name) · \(result.executor)"
        if let profile = result.profile { subject += " · \(profile)" }
        if let numa = result.numa { subject += " · \(numa)" }
        subject += " · \(result.threads)t"
        figures[subject] = (result.msPerStep, result.measuredNoise, false)
      }
    }
    for model in report.models {
      for peer in model.peers {
        guard let ms = peer.msPerStep else { continue }
        figures["\(model.name) · \(peer.peer) · \(peer.threads)t"] = (ms, peer.noise ?? peer.spread ?? 0, false)
      }
    }
    for entry in report.kernelBenchmarks?.sides ?? [] {
      let subject = "kernel benchmark · \(entry.benchmark) · \(entry.threads)t · \(entry.side)"
      figures[subject] = (entry.figure.msMedian, entry.figure.measuredNoise, false)
    }
    for kernel in report.kernels {
      figures["\(kernel.model) · kernel \(kernel.name) (\(kernel.template))"] = (kernel.seconds * 1e3, kernel.noise ?? kernel.spread, true)
    }
    for row in report.generation.rows {
      figures["\(row.name) · generation total"] = (row.median.totalSeconds * 1e3, row.measuredNoise, false)
    }
    for row in report.compile ?? [] {
      figures["\(row.name) · cold compile"] = (row.coldSeconds.median * 1e3, row.coldSeconds.noise, false)
      figures["\(row.name) · warm compile"] = (row.warmSeconds.median * 1e3, row.warmSeconds.noise, false)
    }
    return figures
  }

  /// A plain-text table: every changed subject, or every subject when `all` is set.
  public func text(all: Bool = false) -> String {
    let shown = all ? changes : changes.filter { $0.verdict != .unchanged }
    var lines: [String] = []
    let width = max(shown.map(\.subject.count).max() ?? 0, 7)
    lines.append("subject".padding(toLength: width, withPad: " ", startingAt: 0) + "      old ms      new ms   change   noise  verdict")
    for change in shown {
      let marker: String
      switch change.verdict {
      case .regression: marker = "REGRESSION"
      case .improvement: marker = "improvement"
      case .unchanged: marker = "within noise"
      }
      lines.append(change.subject.padding(toLength: width, withPad: " ", startingAt: 0)
        + String(format: "  %10.3f  %10.3f  %+6.1f%%  ±%4.1f%%  ", change.oldMs, change.newMs, 100 * change.relativeChange, 100 * change.noise)
        + marker)
    }
    let unchanged = changes.count - regressions.count - improvements.count
    lines.append("\(changes.count) compared: \(regressions.count) regression\(regressions.count == 1 ? "" : "s"), "
      + "\(improvements.count) improvement\(improvements.count == 1 ? "" : "s"), \(unchanged) within noise")
    if !onlyOld.isEmpty { lines.append("only in the old report: " + onlyOld.joined(separator: "; ")) }
    if !onlyNew.isEmpty { lines.append("only in the new report: " + onlyNew.joined(separator: "; ")) }
    if !belowResolution.isEmpty {
      lines.append("\(belowResolution.count) kernel figure\(belowResolution.count == 1 ? "" : "s") under the kernel timing resolution in either report, not compared")
    }
    return lines.joined(separator: "\n")
  }
}
