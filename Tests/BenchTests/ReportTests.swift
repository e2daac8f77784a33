import Foundation
import Synchronization
import Testing

@testable import Bench

/// report.json checked against the schema bench/README.md documents: each key's JSON type.
enum ReportSchema {
  enum Kind { case number, string, bool, array, object, numberOrNull }

  static let top: [String: Kind] = ["kiln-report": .number, "suite": .object, "createdAt": .string, "durationSeconds": .number,
                                    "spreadThreshold": .number, "host": .object, "models": .array, "kernels": .array,
                                    "generation": .object, "notes": .array]
  static let host: [String: Kind] = ["name": .string, "cpu": .string, "profile": .string, "cores": .number, "numaNodes": .number,
                                     "peakGflops": .object, "bandwidthGBs": .number, "ceilingsMeasuredAt": .string,
                                     "ceilingsSource": .string, "compiler": .string, "cFlags": .array, "openBLAS": .string]
  static let peak: [String: Kind] = ["oneCore": .number, "allCores": .number]
  static let suite: [String: Kind] = ["name": .string, "file": .string, "description": .string, "rounds": .number]
  static let memory: [String: Kind] = ["packedWeightBytes": .number, "arenaBytes": .number, "peakResidentBytes": .number,
                                       "budgetBytes": .number, "withinBudget": .bool]
  static let model: [String: Kind] = ["name": .string, "model": .string, "config": .string, "family": .string, "flops": .number,
                                      "compulsoryBytes": .number, "arithmeticIntensity": .number, "cases": .array,
                                      "executors": .object, "speedup": .object, "threadScaling": .array, "profiles": .object,
                                      "peers": .array]
  /// Times, GFLOP/s and parity are absent when the peer did not run (its `error` says why).
  static let peerRow: [String: Kind] = ["peer": .string, "settings": .object, "threads": .number, "warmups": .number,
                                        "repetitions": .number, "trustworthy": .bool, "samplesMs": .array, "parityPassed": .bool]
  static let peerRowWhenMeasured: [String: Kind] = ["version": .string, "msPerStep": .number, "minMs": .number, "maxMs": .number,
                                                    "spread": .number, "gflops": .number, "percentOfPeak": .number,
                                                    "compiledMs": .number, "parityError": .number, "parityTolerance": .number,
                                                    "sampleRounds": .array, "roundMediansMs": .array, "withinRoundSpread": .number,
                                                    "noise": .number]
  static let result: [String: Kind] = ["executor": .string, "threads": .number, "msPerStep": .number, "gflops": .number,
                                       "minMs": .number, "maxMs": .number, "spread": .number, "trustworthy": .bool,
                                       "samplesMs": .array, "warmups": .number, "repetitions": .number, "buildSeconds": .number,
                                       "sampleRounds": .array, "roundMediansMs": .array, "withinRoundSpread": .number, "noise": .number]
  static let kernel: [String: Kind] = ["model": .string, "name": .string, "template": .string, "flops": .number, "bytes": .number,
                                       "calls": .number, "arithmeticIntensity": .number, "seconds": .number, "gflops": .number,
                                       "percentOfPeak": .number, "bound": .string, "spread": .number, "trustworthy": .bool,
                                       "noise": .number, "roundMedianSeconds": .array]
  static let noiseFloor: [String: Kind] = ["figureClass": .string, "threads": .number, "figures": .number, "residuals": .number,
                                           "confidence": .number, "byRounds": .array]
  static let generation: [String: Kind] = ["available": .bool, "rows": .array]
  static let compileRow: [String: Kind] = ["name": .string, "model": .string, "profile": .string, "kernels": .number,
                                           "translationUnits": .number, "coldSeconds": .object, "warmSeconds": .object]
  static let timedFigure: [String: Kind] = ["median": .number, "min": .number, "max": .number, "samples": .array,
                                            "sampleRounds": .array, "roundMedians": .array, "noise": .number, "trustworthy": .bool]
  static let kernelBenchmarks: [String: Kind] = ["label": .string, "profile": .string, "openBLAS": .string, "warmups": .number,
                                                 "repetitions": .number, "method": .array, "targets": .object, "gemm": .array,
                                                 "attention": .array]
  static let figure: [String: Kind] = ["msMedian": .number, "minMs": .number, "maxMs": .number, "spread": .number, "trustworthy": .bool,
                                       "samplesMs": .array, "gflops": .number, "percentOfPeak": .number, "noise": .number]
  static let gemmRow: [String: Kind] = ["m": .number, "n": .number, "k": .number, "batch": .number, "epilogue": .string, "threads": .number,
                                        "flops": .number, "peakGflops": .number, "kiln": .object, "openBLAS": .object,
                                        "openBLASPinned": .bool, "kilnVsOpenBLAS": .number, "meetsPeakTarget": .bool, "meetsOpenBLASTarget": .bool, "parityError": .number]
  /// Present when the row's epilogue is not `none`.
  static let gemmRowWithEpilogue: [String: Kind] = ["kilnEpilogue": .object, "kilnEpilogueKernels": .array, "kilnEpilogueVsOpenBLAS": .number]
  static let attentionRow: [String: Kind] = ["label": .string, "batch": .number, "heads": .number, "queries": .number, "keys": .number,
                                             "headDim": .number, "threads": .number, "flops": .number, "graphFlops": .number,
                                             "peakGflops": .number, "kiln": .object, "kilnKernels": .array, "eagerBLAS": .object,
                                             "speedupVsEager": .number, "meetsPeakTarget": .bool, "meetsEagerTarget": .bool, "parityError": .number]

  /// Every violation as `path: problem`; empty when the document follows the schema.
  static func violations(_ data: Data) throws -> [String] {
    guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return ["(top): not an object"] }
    var problems = check(root, top, "")
    if let suiteObject = root["suite"] as? [String: Any] { problems += check(suiteObject, suite, "suite.") }
    if let hostObject = root["host"] as? [String: Any] {
      problems += check(hostObject, host, "host.")
      if let peakObject = hostObject["peakGflops"] as? [String: Any] { problems += check(peakObject, peak, "host.peakGflops.") }
    }
    for (i, item) in ((root["models"] as? [Any]) ?? []).enumerated() {
      guard let modelObject = item as? [String: Any] else { problems.append("models[\(i)]: not an object"); continue }
      problems += check(modelObject, model, "models[\(i)].")
      for (name, value) in (modelObject["executors"] as? [String: Any]) ?? [:] {
        problems += check(value as? [String: Any] ?? [:], result, "models[\(i)].executors.\(name).")
      }
      for (j, value) in ((modelObject["cases"] as? [Any]) ?? []).enumerated() {
        let caseObject = value as? [String: Any] ?? [:]
        problems += check(caseObject, result, "models[\(i)].cases[\(j)].")
        if let drift = caseObject["betweenRoundDrift"], !(drift is NSNumber) { problems.append("models[\(i)].cases[\(j)].betweenRoundDrift: not a number") }
        if let memoryObject = caseObject["memory"] {
          problems += check(memoryObject as? [String: Any] ?? [:], memory, "models[\(i)].cases[\(j)].memory.")
        } else if caseObject["executor"] as? String == "compiled", FileManager.default.fileExists(atPath: "/proc/self/clear_refs") {
          problems.append("models[\(i)].cases[\(j)].memory: missing for a compiled case")
        }
      }
      for (j, value) in ((modelObject["peers"] as? [Any]) ?? []).enumerated() {
        let row = value as? [String: Any] ?? [:]
        problems += check(row, peerRow, "models[\(i)].peers[\(j)].")
        if row["error"] == nil { problems += check(row, peerRowWhenMeasured, "models[\(i)].peers[\(j)].") }
        for key in ["compiledSpeedup", "error"] where row[key] != nil {
          if key == "error" ? !(row[key] is String) : !(row[key] is NSNumber) { problems.append("models[\(i)].peers[\(j)].\(key): wrong type") }
        }
      }
      if let speedup = modelObject["speedup"] as? [String: Any] {
        for key in speedup.keys where !["vsNaive", "vsEagerBlas"].contains(key) { problems.append("models[\(i)].speedup.\(key): unknown") }
        for (key, value) in speedup where !(value is NSNumber) { problems.append("models[\(i)].speedup.\(key): not a number") }
      }
    }
    for (i, item) in ((root["kernels"] as? [Any]) ?? []).enumerated() {
      problems += check(item as? [String: Any] ?? [:], kernel, "kernels[\(i)].")
    }
    if let generationObject = root["generation"] as? [String: Any] { problems += check(generationObject, generation, "generation.") }
    if let section = root["kernelBenchmarks"] { problems += kernelBenchmarkViolations(section) }
    if let floors = root["noiseFloors"] {
      for (i, item) in ((floors as? [Any]) ?? []).enumerated() {
        problems += check(item as? [String: Any] ?? [:], noiseFloor, "noiseFloors[\(i)].")
      }
    }
    if let rows = root["compile"] {
      for (i, item) in ((rows as? [Any]) ?? []).enumerated() {
        let row = item as? [String: Any] ?? [:]
        problems += check(row, compileRow, "compile[\(i)].")
        for key in ["coldSeconds", "warmSeconds"] {
          problems += check(row[key] as? [String: Any] ?? [:], timedFigure, "compile[\(i)].\(key).")
        }
      }
    }
    return problems
  }

  /// The optional `kernelBenchmarks` section: each GEMM and attention row and their figures.
  static func kernelBenchmarkViolations(_ value: Any) -> [String] {
    guard let section = value as? [String: Any] else { return ["kernelBenchmarks: not an object"] }
    var problems = check(section, kernelBenchmarks, "kernelBenchmarks.")
    for (i, item) in ((section["gemm"] as? [Any]) ?? []).enumerated() {
      let row = item as? [String: Any] ?? [:]
      let at = "kernelBenchmarks.gemm[\(i)]."
      problems += check(row, gemmRow, at)
      if row["epilogue"] as? String != "none" { problems += check(row, gemmRowWithEpilogue, at) }
      for key in ["kiln", "openBLAS", "kilnEpilogue"] { if let figureObject = row[key] as? [String: Any] { problems += check(figureObject, figure, at + key + ".") } }
    }
    for (i, item) in ((section["attention"] as? [Any]) ?? []).enumerated() {
      let row = item as? [String: Any] ?? [:]
      let at = "kernelBenchmarks.attention[\(i)]."
      problems += check(row, attentionRow, at)
      for key in ["kiln", "eagerBLAS"] { problems += check(row[key] as? [String: Any] ?? [:], figure, at + key + ".") }
    }
    return problems
  }

  static func check(_ object: [String: Any], _ schema: [String: Kind], _ prefix: String) -> [String] {
    schema.sorted { $0.key < $1.key }.compactMap { key, kind in
      guard let value = object[key] else { return "\(prefix)\(key): missing" }
      let matches: Bool
      switch kind {
      case .number, .numberOrNull: matches = (value as? NSNumber).map { String(cString: $0.objCType) != "c" } ?? false
      case .bool: matches = (value as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false
      case .string: matches = value is String
      case .array: matches = value is [Any]
      case .object: matches = value is [String: Any]
      }
      return matches ? nil : "\(prefix)\(key): expected \(kind)"
    }
  }
}

@Suite(.serialized) struct ReportTests {
  @Test func tinySuiteRunWritesTheThreeFiles() throws {
    let report = try BenchFixtures.tinyReport.get()
    let folder = BenchFixtures.temporaryDirectory()
    let files = try ReportWriter.write(report, to: folder)
    #expect(files.map(\.lastPathComponent) == ["report.json", "report.md", "report.html"])
    for file in files { #expect(try Data(contentsOf: file).count > 500) }
    #expect(report.models.map(\.name) == ["dit-tiny", "llama-tiny"])
    // 3 executors × threads {1, all} (eager-blas has no profile), fewer when this machine has one CPU.
    let teams = Set([1, report.host.cores]).count
    for model in report.models {
      #expect(model.cases.count == 3 * teams)
      #expect(model.cases.allSatisfy { $0.samplesMs.count == 3 && $0.msPerStep > 0 })
      #expect(model.speedup.vsNaive != nil && model.speedup.vsEagerBlas != nil)
    }
    #expect(!report.kernels.isEmpty)
    let markdown = try String(contentsOf: files[1], encoding: .utf8)
    #expect(markdown.contains(ReportWriter.kernelGemmTitle) && markdown.contains(ReportWriter.kernelAttentionTitle))
    #expect(markdown.contains("Generation is not available in this build"))
  }

  @Test func reportJSONFollowsTheDocumentedSchemaAndRoundTrips() throws {
    let report = try BenchFixtures.tinyReport.get()
    let data = try report.jsonData()
    #expect(try ReportSchema.violations(data) == [])
    let folder = BenchFixtures.temporaryDirectory()
    _ = try ReportWriter.write(report, to: folder)
    #expect(try BenchReport(contentsOf: folder.appendingPathComponent("report.json")) == report)
  }

  @Test func compileEntryTimesAColdCompileIntoAnEmptyCacheAndAWarmOneAfter() throws {
    let report = try BenchFixtures.tinyReport.get()
    let row = try #require(report.compile?.first)
    #expect(row.name == "compile dit-tiny" && row.kernels > 0 && row.translationUnits >= 1)
    #expect(row.coldSeconds.samples.count == 1 && row.warmSeconds.samples.count == 1)
    // A warm compile is a cache hit: no C compiler runs, so it is far below the cold one.
    #expect(row.warmSeconds.median < row.coldSeconds.median / 2)
    #expect(row.meetsColdTarget == true && row.meetsWarmTarget == true)
    let markdown = ReportWriter.markdown(report)
    #expect(markdown.contains("## Compile time") && markdown.contains("| compile dit-tiny | dit-tiny | native |"))
  }

  @Test func kernelBenchmarksHaveARowPerShapeAndTeamWithEverySample() throws {
    let report = try BenchFixtures.tinyReport.get()
    let section = try #require(report.kernelBenchmarks)
    let teams = Set([1, report.host.cores]).sorted()
    // Each shape at every team size, shape by shape: m 12 is one sample of 12 tokens, m 24 two.
    #expect(section.gemm.map(\.m) == [12, 24].flatMap { m in teams.map { _ in m } })
    #expect(section.gemm.map(\.batch) == section.gemm.map { $0.m / 12 })
    #expect(section.gemm.map(\.threads) == [teams, teams].flatMap { $0 })
    #expect(section.attention.map(\.threads) == teams)
    for row in section.gemm {
      let epilogue = try #require(row.kilnEpilogue)
      for figure in [epilogue, row.kiln, row.openBLAS] { #expect(figure.samplesMs.count == 3 && figure.gflops > 0) }
      #expect(row.kilnEpilogueKernels == ["gemm"])
      #expect(row.parityError <= 1e-4)
      #expect(row.flops == 2 * row.m * 19 * 37)
    }
    for row in section.attention {
      for figure in [row.kiln, row.eagerBLAS] { #expect(figure.samplesMs.count == 3 && figure.gflops > 0) }
      #expect(row.kilnKernels == ["attention"])
      #expect(row.parityError <= 1e-4)
      #expect(row.flops == 4 * 2 * 13 * 7 * 24 && row.graphFlops > row.flops)
    }
    let tables = ReportWriter.kernelBenchmarkTables(report)
    // Each side's time and noise: Kiln, Kiln + epilogue and OpenBLAS per GEMM row, Kiln and eager-blas per attention row.
    #expect(tables.map(\.rows.count) == [section.gemm.count, section.attention.count, 3 * section.gemm.count + 2 * section.attention.count])
  }

  @Test func aReportWithoutKernelBenchmarksHasNoSuchKey() throws {
    var report = try BenchFixtures.tinyReport.get()
    report.kernelBenchmarks = nil
    let object = try #require(JSONSerialization.jsonObject(with: try report.jsonData()) as? [String: Any])
    #expect(object["kernelBenchmarks"] == nil)
    #expect(ReportWriter.kernelBenchmarkTables(report).isEmpty)
  }

  @Test func schemaCheckerCatchesAMissingKey() throws {
    var object = try #require(JSONSerialization.jsonObject(with: try BenchFixtures.tinyReport.get().jsonData()) as? [String: Any])
    object["kernels"] = nil
    #expect(try ReportSchema.violations(JSONSerialization.data(withJSONObject: object)) == ["kernels: missing"])
  }

  @Test func everyChartHasOneElementPerDataPoint() throws {
    let report = try BenchFixtures.tinyReport.get()
    let charts = ReportWriter.charts(report)
    func points(_ svg: String) -> Int { svg.components(separatedBy: "data-point=").count - 1 }
    let headline = try #require(charts["Models: time per step (headline: first profile, all threads)"]?.first)
    #expect(points(headline) == report.models.map(\.executors.count).reduce(0, +))
    let rooflines = try #require(charts["Kernels (compiled; instances of one function summed)"])
    let kernelModels = SVGChart.orderedUnique(report.kernels.map(\.model))
    #expect(rooflines.count == kernelModels.count)
    for (svg, model) in zip(rooflines, kernelModels) {
      #expect(points(svg) == report.kernels.filter { $0.model == model && $0.gflops > 0 && $0.arithmeticIntensity > 0 }.count)
      #expect(svg.components(separatedBy: "class=\"ceiling\"").count - 1 == 2)
    }
    let contrast = try #require(charts["Whole models on the roofline (compiled, all threads)"]?.first)
    #expect(points(contrast) == report.models.count)
    if report.host.cores > 1 {
      let scaling = try #require(charts["Thread scaling (1 → all)"]?.first)
      #expect(points(scaling) == report.models.map(\.threadScaling.count).reduce(0, +))
    }
    let html = ReportWriter.html(report)
    #expect(points(html) == charts.values.flatMap { $0 }.map(points).reduce(0, +))
  }

  @Test func generationRowsAreDrawnFromTheRunnerFigures() throws {
    var report = try BenchFixtures.tinyReport.get()
    let figures = GenerationFigures(steps: 4, secondsPerStep: 0.5, denoiseSeconds: 2, vaeSeconds: 1, totalSeconds: 3, gflops: 10, imagesPerMinute: 20)
    var environment = try BenchFixtures.environment(generation: { request in
      #expect(request.run.steps == 4)
      return figures
    })
    environment.spreadThreshold = 0.1
    let run = GenerationRun(label: "gen", model: "dit-tiny", config: nil, overrides: [:], steps: 4, sampler: nil, guidance: nil, seed: 0,
                            executor: .compiled, profile: "native", threads: .all, numa: "local", warmups: 0, repetitions: 3)
    let harness = BenchHarness(environment: environment)
    var ledger = GenerationLedger()
    for round in 1...2 { try harness.measureGeneration(run, round: round, rounds: 2, ledger: &ledger) }
    #expect(ledger.rounds == [1, 1, 2])
    let row = try #require(harness.generationRow(run, ledger: ledger, threshold: 0.1))
    #expect(row.samples.count == 3 && row.median == figures && row.trustworthy)
    #expect(row.roundMediansSeconds == [3, 3] && row.noise == 0)
    report.generation = GenerationSection(available: true, rows: [row])
    let chart = try #require(ReportWriter.charts(report)["End-to-end generation"]?.first)
    #expect(chart.components(separatedBy: "data-point=").count - 1 == 2)
    #expect(ReportWriter.markdown(report).contains("| gen | dit-tiny | compiled |"))
  }
}

@Suite struct ComparisonTests {
  static func report(ms: Double, samples: [Double]) throws -> BenchReport {
    var report = try BenchFixtures.tinyReport.get()
    let statistics = try #require(SampleStatistics(samples.map { $0 * ms }))
    for m in report.models.indices {
      for c in report.models[m].cases.indices {
        report.models[m].cases[c].msPerStep = statistics.median
        report.models[m].cases[c].spread = statistics.spread
        report.models[m].cases[c].noise = statistics.spread
      }
    }
    report.kernels = []
    report.compile = nil
    report.kernelBenchmarks = nil
    return report
  }

  @Test func kernelBenchmarkSidesAreComparedWithTheirNoise() throws {
    let tiny = try BenchFixtures.tinyReport.get()
    var old = try Self.report(ms: 10, samples: [1])
    old.kernelBenchmarks = tiny.kernelBenchmarks
    var section = try #require(old.kernelBenchmarks)
    for r in section.gemm.indices { section.gemm[r].kiln.noise = 0.05 }
    old.kernelBenchmarks = section
    var slower = section
    slower.gemm[0].kiln.msMedian *= 1.5
    var new = old
    new.kernelBenchmarks = slower
    let row = section.gemm[0]
    let subject = "kernel benchmark · gemm \(row.m)×\(row.n)×\(row.k) \(row.epilogue) · \(row.threads)t · Kiln"
    let comparison = ReportComparison(old: old, new: new, threshold: 0.05)
    #expect(comparison.regressions.map(\.subject) == [subject])
    #expect(comparison.changes.contains { $0.subject.hasSuffix("· OpenBLAS") } && comparison.changes.contains { $0.subject.hasSuffix("· eager-blas") })
    // Within the noise the old report states for that side: not a regression.
    slower.gemm[0].kiln.noise = 0.6
    new.kernelBenchmarks = slower
    #expect(ReportComparison(old: old, new: new, threshold: 0.05).regressions.isEmpty)
  }

  @Test func syntheticRegressionIsFlaggedAndNoiseIsNot() throws {
    let old = try Self.report(ms: 10, samples: [1, 1.01, 0.99])
    let slower = try Self.report(ms: 13, samples: [1, 1.01, 0.99])
    let comparison = ReportComparison(old: old, new: slower, threshold: 0.05)
    #expect(comparison.regressions.count == comparison.changes.count && !comparison.changes.isEmpty)
    #expect(comparison.text().contains("REGRESSION"))

    let jittery = try Self.report(ms: 10.8, samples: [0.9, 1, 1.1])
    let noise = ReportComparison(old: old, new: jittery, threshold: 0.05)
    #expect(noise.regressions.isEmpty && noise.improvements.isEmpty)

    let faster = ReportComparison(old: slower, new: old, threshold: 0.05)
    #expect(faster.improvements.count == faster.changes.count && faster.regressions.isEmpty)
  }

  @Test func aChangeWithinEitherReportsNoiseIsNotARegression() throws {
    let old = try Self.report(ms: 10, samples: [1, 1.01, 0.99])
    let slower = try Self.report(ms: 12, samples: [1, 1.01, 0.99])
    #expect(!ReportComparison(old: old, new: slower, threshold: 0.05).regressions.isEmpty)
    // The same 20 % when the new report's rounds drifted by 25 %: within its noise.
    var drifting = slower
    for m in drifting.models.indices {
      for c in drifting.models[m].cases.indices { drifting.models[m].cases[c].noise = 0.25 }
    }
    let comparison = ReportComparison(old: old, new: drifting, threshold: 0.05)
    #expect(comparison.regressions.isEmpty && comparison.changes.allSatisfy { abs($0.noise - 0.25) < 1e-12 })
    // A report written before rounds has no noise: its spread stands in.
    var written = old
    for m in written.models.indices {
      for c in written.models[m].cases.indices {
        written.models[m].cases[c].noise = nil
        written.models[m].cases[c].spread = 0.3
      }
    }
    #expect(ReportComparison(old: written, new: slower, threshold: 0.05).regressions.isEmpty)
  }

  @Test func generationWarmUpsTakeOneStepAndPrecedeTheFirstRoundOnly() throws {
    let steps = Mutex<[Int]>([])
    let environment = try BenchFixtures.environment(generation: { request in
      steps.withLock { $0.append(request.run.steps) }
      return GenerationFigures(steps: request.run.steps, secondsPerStep: 0.1, denoiseSeconds: 1, vaeSeconds: 1,
                               totalSeconds: request.run.steps == 1 ? 9 : 2, gflops: 1)
    })
    let run = GenerationRun(label: "gen", model: "dit-tiny", config: nil, overrides: [:], steps: 5, sampler: nil, guidance: nil, seed: 0,
                            executor: .compiled, profile: "native", threads: .all, numa: "local", warmups: 2, repetitions: 2)
    let harness = BenchHarness(environment: environment)
    var ledger = GenerationLedger()
    for round in 1...3 { try harness.measureGeneration(run, round: round, rounds: 3, ledger: &ledger) }
    #expect(steps.withLock { $0 } == [1, 1, 5, 5])
    #expect(ledger.rounds == [1, 2] && ledger.samples.allSatisfy { $0.totalSeconds == 2 })
  }

  @Test func generationTotalsAreComparedWithTheirRoundNoise() throws {
    func report(total: Double, noise: Double) throws -> BenchReport {
      var report = try Self.report(ms: 10, samples: [1])
      let figures = GenerationFigures(steps: 2, secondsPerStep: 1, denoiseSeconds: 2, vaeSeconds: 1, totalSeconds: total, gflops: 1)
      var row = GenerationRow(name: "gen", model: "dit-tiny", executor: "compiled", profile: "native", threads: 2, median: figures,
                              samples: [figures], spread: 0, trustworthy: true)
      row.noise = noise
      report.generation = GenerationSection(available: true, rows: [row])
      return report
    }
    let subject = "gen · generation total"
    let old = try report(total: 10, noise: 0.02)
    #expect(ReportComparison(old: old, new: try report(total: 11.5, noise: 0.02), threshold: 0.05).regressions.map(\.subject) == [subject])
    #expect(ReportComparison(old: old, new: try report(total: 11.5, noise: 0.2), threshold: 0.05).regressions.isEmpty)
  }

  @Test func kernelsUnderTheTimingResolutionAreNotCompared() throws {
    var old = try Self.report(ms: 10, samples: [1])
    let kernel = try #require(try BenchFixtures.tinyReport.get().kernels.first)
    var tiny = kernel, large = kernel
    tiny.name = "k_tiny"
    tiny.seconds = 0.2e-3
    tiny.noise = 0.1
    large.name = "k_large"
    large.seconds = 5e-3
    large.noise = 0.1
    old.kernels = [tiny, large]
    var new = old
    new.kernels[0].seconds = 0.8e-3
    new.kernels[1].seconds = 8e-3
    let comparison = ReportComparison(old: old, new: new, threshold: 0.05)
    #expect(comparison.regressions.map(\.subject) == ["\(kernel.model) · kernel k_large (\(kernel.template))"])
    #expect(comparison.belowResolution.count == 1 && comparison.text().contains("1 kernel figure under the kernel timing resolution"))
    #expect(ReportComparison(old: old, new: new, threshold: 0.05, kernelResolutionMs: 0).regressions.count == 2)
    // Under the resolution in the old report only (0.2 → 3 ms from one preemption): still not compared.
    var jumped = new
    jumped.kernels[0].seconds = 3e-3
    #expect(ReportComparison(old: old, new: jumped, threshold: 0.05).belowResolution.count == 1)
  }

  @Test func subjectsInOneReportOnlyAreListed() throws {
    let old = try Self.report(ms: 10, samples: [1])
    var new = old
    new.models.removeLast()
    let comparison = ReportComparison(old: old, new: new, threshold: 0.05)
    #expect(!comparison.onlyOld.isEmpty && comparison.onlyNew.isEmpty)
  }
}
