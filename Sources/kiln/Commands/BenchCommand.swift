import ArgumentParser
import Bench
import Foundation

/// `kiln bench [--suite NAME|FILE] [-o DIR]`: runs a suite and writes report.json, report.md, report.html.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Run a benchmark suite and write its report (JSON, Markdown, HTML with SVG charts).",
    discussion: """
      NAME is bench/suites/NAME.json (quick, default, full), found from this folder upwards; anything with a slash \
      or a .json suffix is a file. The suite runs in rounds (its "rounds" field): each round visits every case, builds \
      its executor, warms up and takes its share of the repetitions, so a figure's noise includes the drift between \
      rounds. Every sample is kept. \
      The host's ceilings come from `kiln profile --measure`; when none are stored they are measured first (about 2 s).
      """)

  @Option(help: "A suite name (quick, default, full) or a suite file.")
  var suite = "quick"

  @Option(name: .shortAndLong, help: "Report folder (default: reports/<host>-<date>/).")
  var output: String?

  @Option(help: "Noise (the larger of the spread within a round and the drift between rounds) above which a figure is marked not trustworthy, in percent.")
  var spreadThreshold = 10.0

  @Flag(help: "List the cases and a first guess at their run time from FLOPs and the measured peak; run nothing.")
  var plan = false

  func run() throws {
    let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
    let suite = try Suite(contentsOf: try Suite.locate(self.suite, from: here))
    var environment = try BenchEnvironment.current()
    environment.spreadThreshold = spreadThreshold / 100
    if plan {
      try printPlan(suite, environment: environment)
      return
    }
    let printer = ProgressPrinter(interactive: isatty(STDERR_FILENO) == 1)
    if let minutes = suite.expectedMinutes { printer.line("suite \(suite.name): expected to take about \(Int(minutes.rounded())) min on the reference machine") }
    let report = try BenchHarness(environment: environment, progress: printer.show).run(suite)
    printer.finish()
    let directory = output.map { URL(fileURLWithPath: $0, isDirectory: true) }
      ?? ReportWriter.defaultDirectory(host: report.host.name, under: here)
    let files = try ReportWriter.write(report, to: directory)
    if report.kernelBenchmarks != nil { print(ReportWriter.kernelBenchmarkMarkdown(report)) }
    let untrusted = report.models.flatMap(\.cases).filter { !$0.trustworthy }.count
    let kernelRows = (report.kernelBenchmarks?.gemm.count ?? 0) + (report.kernelBenchmarks?.attention.count ?? 0)
    print(String(format: "suite %@: %d cases in %.0f s", suite.name, report.models.flatMap(\.cases).count, report.durationSeconds)
      + (kernelRows > 0 ? " (and \(kernelRows) kernel benchmark rows)" : "")
      + (untrusted > 0 ? ", \(untrusted) with noise above \(Int(spreadThreshold)) % (marked ⚠)" : ""))
    for file in files { print("  wrote \(file.path)") }
  }
}

extension BenchCommand {
  func printPlan(_ suite: Suite, environment: BenchEnvironment) throws {
    let planned = try BenchHarness(environment: environment).plannedCases(suite)
    planned.notes.forEach { print("note: " + $0) }
    print(String(format: "host: %@, peak %.0f / %.0f GFLOP/s (1 core / all), %.0f GB/s", planned.host.cpu,
                 planned.host.peakGflops.oneCore, planned.host.peakGflops.allCores, planned.host.bandwidthGBs))
    for item in planned.cases {
      func padded(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
      print("  " + padded(item.label, 40) + " " + padded(item.executor, 10) + " " + padded(item.profile ?? "–", 14)
        + String(format: " %2dt  %3d runs in %d round%@  %9.2f GFLOP  ~%7.1f s", item.threads, item.runs, item.rounds,
                 item.rounds == 1 ? " " : "s", item.gflop, item.estimatedSeconds))
    }
    for run in suite.modelRuns where !run.peers.isEmpty {
      print("  " + run.label + ": " + run.peers.map(\.rawValue).joined(separator: ", ")
        + " sampled beside its headline compiled case, started again in each round (export and peer time not in the guess)"
        + (environment.peers == nil ? "; not installed here, `make peers` adds them" : ""))
    }
    let total = planned.cases.reduce(0) { $0 + $1.estimatedSeconds }
    let visits = planned.cases.reduce(0) { $0 + $1.rounds }
    print("\(planned.cases.count) cases, \(visits) visits in \(suite.rounds) round\(suite.rounds == 1 ? "" : "s") (each builds and warms up its case), "
      + "first guess ≈ \(ProgressPrinter.duration(total)) (compiled at 50 % of peak, eager-blas 30 %, naive 2 %; "
      + "no compile time)" + Self.untimedEntries(suite))
  }

  /// "; plus 2 generation entries and 1 compile entry, not in the guess", or "" when there are none.
  static func untimedEntries(_ suite: Suite) -> String {
    func counted(_ count: Int, _ kind: String) -> String? {
      count == 0 ? nil : "\(count) \(kind) entr\(count == 1 ? "y" : "ies")"
    }
    let parts = [counted(suite.generationRuns.count, "generation"), counted(suite.compileRuns.count, "compile")].compactMap { $0 }
    return parts.isEmpty ? "" : "; plus " + parts.joined(separator: " and ") + ", not in the guess"
  }
}

/// Progress on standard error: one rewritten line on a terminal, plain lines otherwise.
final class ProgressPrinter {
  let interactive: Bool
  private var pending = false

  init(interactive: Bool) { self.interactive = interactive }

  func line(_ text: String) {
    clear()
    FileHandle.standardError.write(Data((text + "\n").utf8))
  }

  func show(_ event: BenchProgress) {
    switch event {
    case .note(let text):
      line("note: " + text)
    case let .caseStarted(index, total, round, rounds, label, executor, profile, threads, eta):
      let text = "[\(index)/\(total)] round \(round)/\(rounds) · \(label) · \(executor)\(profile.map { " · \($0)" } ?? "") · \(threads)t"
        + " · ETA " + Self.duration(eta)
      if interactive {
        clear()
        FileHandle.standardError.write(Data(("\r" + text + " …").utf8))
        pending = true
      } else {
        line(text)
      }
    case let .caseFinished(index, total, round, rounds, label, executor, roundMilliseconds, milliseconds, noise, trustworthy):
      line(String(format: "[%d/%d] round %d/%d · %@ · %@: %.3f ms/step this round; rounds so far %.3f ms, noise %.1f%%", index, total,
                  round, rounds, label, executor, roundMilliseconds, milliseconds, 100 * noise)
        + (trustworthy ? "" : " ⚠ not trustworthy"))
    case let .peer(label, peer, message):
      line("  \(label) · \(peer): \(message)")
    case let .kernelMeasured(label, summary):
      line("  \(label): \(summary)")
    }
  }

  func finish() { clear() }

  private func clear() {
    guard interactive, pending else { return }
    FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    pending = false
  }

  static func duration(_ seconds: Double) -> String {
    let whole = Int(seconds.rounded())
    return whole >= 60 ? "\(whole / 60) min \(whole % 60) s" : "\(whole) s"
  }
}
