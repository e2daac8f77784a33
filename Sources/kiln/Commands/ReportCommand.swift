import ArgumentParser
import Bench
import Foundation

/// `kiln report compare OLD.json NEW.json`: what changed between two bench reports.
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report", abstract: "Work with bench reports.", subcommands: [Compare.self, Render.self])

  struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write report.md and report.html again from a report.json (after a writer change, or into another folder).")

    @Argument(help: "A report.json written by `kiln bench`.")
    var report: String

    @Option(name: .shortAndLong, help: "Folder for the three files (default: the report's own folder).")
    var output: String?

    func run() throws {
      let url = URL(fileURLWithPath: report)
      let folder = output.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? url.deletingLastPathComponent()
      for file in try ReportWriter.write(try BenchReport(contentsOf: url), to: folder) { print("wrote \(file.path)") }
    }
  }

  struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Compare two report.json files per model, executor and kernel.",
      discussion: "A change counts as a regression or an improvement only beyond --threshold and beyond the noise "
        + "either report states for the figure (its own rounds, or its class's noise floor, whichever is larger; the "
        + "spread for a report written before rounds). Compares model cases, peers, kernels, generation totals, compile "
        + "times and kernel-benchmark sides.")

    @Argument(help: "The earlier report.json.")
    var old: String

    @Argument(help: "The later report.json.")
    var new: String

    @Flag(help: "Exit with status 1 when anything regressed.")
    var failOnRegression = false

    @Option(help: "Smallest change that counts, in percent.")
    var threshold = 5.0

    @Flag(help: "List unchanged figures too.")
    var all = false

    @Option(help: "Kernels under this many milliseconds per step in either report are not compared: one preemption of the machine can multiply them.")
    var kernelResolutionMs = ReportComparison.defaultKernelResolutionMs

    func validate() throws {
      guard threshold >= 0 else { throw ValidationError("--threshold must not be negative, got \(threshold)") }
      guard kernelResolutionMs >= 0 else { throw ValidationError("--kernel-resolution-ms must not be negative, got \(kernelResolutionMs)") }
    }

    func run() throws {
      let comparison = ReportComparison(
        old: try BenchReport(contentsOf: URL(fileURLWithPath: old)), new: try BenchReport(contentsOf: URL(fileURLWithPath: new)),
        threshold: threshold / 100, kernelResolutionMs: kernelResolutionMs)
      print(comparison.text(all: all))
      if failOnRegression && !comparison.regressions.isEmpty { throw ExitCode(1) }
    }
  }
}
