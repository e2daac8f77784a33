import Foundation

/// A table both writers render: Markdown for `report.md`, HTML for `report.html`.
struct ReportTable {
  var title: String
  var header: [String]
  var rows: [[String]]
  /// Lines printed between the title and the table (how it was measured).
  var caption: [String] = []
}

/// The three files of a report directory.
public enum ReportWriter {
  public static let untrustedMark = "⚠"

  /// Writes `report.json`, `report.md` and `report.html` into `directory` (created if needed).
  public static func write(_ report: BenchReport, to directory: URL) throws -> [URL] {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let files = [
      (directory.appendingPathComponent("report.json"), try report.jsonData()),
      (directory.appendingPathComponent("report.md"), Data(markdown(report).utf8)),
      (directory.appendingPathComponent("report.html"), Data(html(report).utf8)),
    ]
    for (url, data) in files { try data.write(to: url, options: .atomic) }
    return files.map(\.0)
  }

  /// `reports/<host>-<yyyy-MM-dd>/`: the default directory of a report.
  public static func defaultDirectory(host: String, date: Date = Date(), under root: URL) -> URL {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd"
    let safeHost = host.split(separator: ".").first.map(String.init) ?? "host"
    return root.appendingPathComponent("reports/\(safeHost)-\(formatter.string(from: date))", isDirectory: true)
  }

  // MARK: Tables

  static func number(_ value: Double, _ digits: Int = 2) -> String { value.isFinite ? String(format: "%.\(digits)f", value) : "–" }

  /// 475.90 G, 12.3 M: FLOPs of models from tiny to real size in one column.
  static func flops(_ value: Int) -> String {
    let units: [(Double, String)] = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")]
    let scaled = Double(value)
    for (size, unit) in units where scaled >= size { return String(format: "%.2f %@", scaled / size, unit) }
    return String(value)
  }

  /// Kernel rows shown per model in the Markdown and HTML tables (report.json has them all).
  static let kernelRowsShown = 12

  static func mark(_ trustworthy: Bool) -> String { trustworthy ? "" : " " + untrustedMark }

  /// "≤ 10 s ✓", "≤ 10 s ✗", or "–" without a target.
  static func target(_ seconds: Double?, met: Bool?) -> String {
    guard let seconds else { return "–" }
    let bound = seconds < 1 ? number(seconds, 2) : number(seconds, 0)
    return "≤ \(bound) s " + (met == true ? "✓" : "✗")
  }

  static func tables(_ report: BenchReport) -> [ReportTable] {
    let host = report.host
    var tables: [ReportTable] = []
    tables.append(ReportTable(title: "Host", header: ["", ""], rows: [
      ["host", host.name], ["CPU", host.cpu],
      ["profile", host.profile + (host.profileBasedOn.map { " (based on \($0))" } ?? "")],
      ["cores", String(host.cores)], ["NUMA nodes", String(host.numaNodes)],
      ["peak GFLOP/s, 1 core", number(host.peakGflops.oneCore, 1)], ["peak GFLOP/s, all cores", number(host.peakGflops.allCores, 1)],
      ["memory bandwidth GB/s", number(host.bandwidthGBs, 1)],
      ["ceilings", "\(host.ceilingsSource), \(host.ceilingsMeasuredAt)"],
      ["C compiler", host.compiler], ["flags", host.cFlags.joined(separator: " ")], ["OpenBLAS", host.openBLAS],
    ]))

    var perExecutor: [[String]] = []
    for model in report.models {
      for result in model.executors.values.sorted(by: { order($0.executor) < order($1.executor) }) {
        perExecutor.append([model.name, result.executor, result.profile ?? "–", String(result.threads),
                            number(result.msPerStep, 3) + mark(result.trustworthy), number(result.minMs, 3), number(result.maxMs, 3),
                            noiseCell(result.noise ?? result.spread, floor: result.noiseFloor), String(result.repetitions),
                            number(result.gflops, 1)])
      }
    }
    tables.append(ReportTable(title: "Models: time per step (headline: first profile, all threads)",
                              header: ["model", "executor", "profile", "threads", "ms/step (median)", "min", "max", "noise", "runs", "GFLOP/s"],
                              rows: perExecutor))
    tables.append(ReportTable(title: "Speedup of compiled", header: ["model", "FLOPs/step", "vs naive", "vs eager-blas"], rows: report.models.map { model in
      [model.name, flops(model.flops), model.speedup.vsNaive.map { number($0) + "×" } ?? "–",
       model.speedup.vsEagerBlas.map { number($0) + "×" } ?? "–"]
    }))
    if report.models.contains(where: { !$0.peers.isEmpty }) {
      tables.append(ReportTable(title: peersTitle, header: peersHeader, rows: peerTableRows(report)))
    }
    tables.append(ReportTable(title: "Thread scaling (1 → all)", header: ["model", "executor", "1 thread ms", "all threads ms", "threads", "speedup"],
                              rows: report.models.flatMap { model in model.threadScaling.map {
                                [model.name, $0.executor, number($0.oneThreadMs, 3), number($0.allThreadsMs, 3), String($0.threads),
                                 number($0.speedup) + "×" + mark($0.trustworthy)]
                              } }))
    tables.append(ReportTable(title: "Profiles side by side (compiled, all threads)", header: ["model", "profile", "ms/step", "GFLOP/s"],
                              rows: report.models.flatMap { model in model.profiles.sorted { $0.key < $1.key }.map {
                                [model.name, $0.key, number($0.value.msPerStep, 3) + mark($0.value.trustworthy), number($0.value.gflops, 1)]
                              } }))
    tables.append(ReportTable(
      title: "Kernels (compiled; instances of one function summed)",
      header: ["model", "kernel", "template", "calls", "MFLOP/call", "KB/call", "FLOP/B", "ms", "noise", "GFLOP/s", "% peak", "bound"],
      rows: kernelTableRows(report.kernels)))
    tables.append(ReportTable(
      title: "Whole models on the roofline (compiled, all threads)",
      header: ["model", "FLOPs/step", "compulsory MB", "FLOP/B", "GFLOP/s", "% peak", "bound"],
      rows: contrastPoints(report).map { point in
        [point.model.name, flops(point.model.flops), number(Double(point.model.compulsoryBytes) / 1e6, 1),
         number(point.model.arithmeticIntensity), number(point.result.gflops, 1),
         number(100 * point.result.gflops / host.peak(threads: point.result.threads), 1),
         point.model.arithmeticIntensity >= host.ridge(threads: point.result.threads) ? "compute" : "memory"]
      }))
    tables.append(ReportTable(
      title: "End-to-end generation",
      header: ["entry", "model", "executor", "threads", "steps", "s/step", "setup s", "denoise s", "VAE s", "total s", "noise", "runs", "target",
               "GFLOP/s", "per minute"],
      rows: report.generation.rows.map { row in
        let m = row.median
        let rate = m.imagesPerMinute.map { number($0) + " images" } ?? m.framesPerMinute.map { number($0) + " frames" } ?? "–"
        return [row.name, row.model, row.executor, String(row.threads), String(m.steps), number(m.secondsPerStep, 3),
                m.setupSeconds.map { number($0) } ?? "–", number(m.denoiseSeconds), number(m.vaeSeconds), number(m.totalSeconds) + mark(row.trustworthy),
                noiseCell(row.measuredNoise, floor: row.noiseFloor), String(row.samples.count), target(row.targetSeconds, met: row.meetsTarget),
                number(m.gflops, 1), rate]
      },
      caption: ["Total = setup (seeded weights, packing, modules from the kernel cache) + denoising + VAE decode. Each row is its "
                + "run with the median total; the runs are spread over the rounds, after warm-ups of one step each, so no run pays "
                + "for a cold compile."]))
    if let compile = report.compile, !compile.isEmpty {
      tables.append(ReportTable(
        title: "Compile time",
        header: ["entry", "model", "profile", "kernels", "translation units", "cold s", "noise", "target", "warm s", "noise", "target", "runs"],
        rows: compile.map { row in
          [row.name, row.model, row.profile, String(row.kernels), String(row.translationUnits),
           number(row.coldSeconds.median) + mark(row.coldSeconds.trustworthy), noiseCell(row.coldSeconds.noise, floor: row.coldSeconds.noiseFloor),
           target(row.coldTargetSeconds, met: row.meetsColdTarget),
           number(row.warmSeconds.median, 3) + mark(row.warmSeconds.trustworthy), noiseCell(row.warmSeconds.noise, floor: row.warmSeconds.noiseFloor),
           target(row.warmTargetSeconds, met: row.meetsWarmTarget), String(row.coldSeconds.samples.count)]
        },
        caption: ["Trace, graph passes, lowering and the module, as `kiln compile` does it: cold into an empty kernel cache "
                  + "of its own, warm against that cache right after."]))
    }
    tables.append(memoryTable(report))
    tables += kernelBenchmarkTables(report)
    tables.append(ReportTable(
      title: "Every measurement",
      header: ["model", "executor", "profile", "numa", "threads", "warm-ups", "runs", "ms median", "min", "max", "round medians ms",
               "within round", "between rounds", "noise", "build s"],
      rows: report.models.flatMap { model in model.cases.map {
        [model.name, $0.executor, $0.profile ?? "–", $0.numa ?? "–", String($0.threads), String($0.warmups), String($0.repetitions),
         number($0.msPerStep, 3) + mark($0.trustworthy), number($0.minMs, 3), number($0.maxMs, 3),
         $0.roundMediansMs.map { $0.map { number($0, 3) }.joined(separator: " / ") } ?? "–",
         number(100 * ($0.withinRoundSpread ?? $0.spread), 1) + " %", $0.betweenRoundDrift.map { number(100 * $0, 1) + " %" } ?? "–",
         noiseCell($0.measuredNoise, floor: $0.noiseFloor), number($0.buildSeconds, 1)]
      } }))
    if let floors = report.noiseFloors, !floors.isEmpty {
      tables.append(noiseFloorTable(floors, rounds: report.suite.rounds ?? 1))
    }
    return tables
  }

  /// Each model's slowest kernels first, the rest folded into one line.
  static func kernelTableRows(_ kernels: [KernelRow]) -> [[String]] {
    var rows: [[String]] = []
    for model in SVGChart.orderedUnique(kernels.map(\.model)) {
      let ranked = kernels.filter { $0.model == model }.sorted { $0.seconds > $1.seconds }
      for kernel in ranked.prefix(kernelRowsShown) {
        rows.append([model, kernel.name, kernel.template, String(kernel.calls), number(Double(kernel.flops) / 1e6, 3),
                     number(Double(kernel.bytes) / 1e3, 1), number(kernel.arithmeticIntensity), number(kernel.seconds * 1e3, 3) + mark(kernel.trustworthy),
                     noiseCell(kernel.noise ?? kernel.spread, floor: kernel.noiseFloor), number(kernel.gflops, 1), number(kernel.percentOfPeak, 1), kernel.bound])
      }
      let rest = ranked.dropFirst(kernelRowsShown)
      if !rest.isEmpty {
        let total = ranked.reduce(0) { $0 + $1.seconds }
        let share = total > 0 ? 100 * rest.reduce(0) { $0 + $1.seconds } / total : 0
        rows.append([model, "… \(rest.count) more (report.json)", "", String(rest.reduce(0) { $0 + $1.calls }), "", "", "",
                     number(rest.reduce(0) { $0 + $1.seconds } * 1e3, 3) + " (" + number(share, 1) + " %)", "", "", "", ""])
      }
    }
    return rows
  }

  static let peersTitle = "Peers side by side (same graph, weights and inputs; sampled alternately with compiled)"
  static let peersHeader = ["model", "peer", "version", "settings (read back)", "threads", "ms/step (median)", "noise", "runs", "GFLOP/s",
                            "% peak", "compiled ms", "compiled speedup", "parity error"]

  /// One row per model and peer; a peer that failed parity keeps its time but gets no ratio.
  static func peerTableRows(_ report: BenchReport) -> [[String]] {
    report.models.flatMap { model in model.peers.map { row in
      let settings = row.settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
      let parity: String
      if let error = row.parityError {
        parity = String(format: "%.1e", error) + (row.parityPassed ? "" : " FAILED (tolerance " + String(format: "%.0e", row.parityTolerance ?? 0) + ")")
      } else {
        parity = "not checked"
      }
      let speedup: String
      if let ratio = row.compiledSpeedup { speedup = number(ratio) + "×" } else { speedup = row.msPerStep == nil ? "–" : "not used (parity)" }
      return [model.name, row.peer, row.version ?? "–", row.error.map { "error: \($0)" } ?? (settings.isEmpty ? "–" : settings), String(row.threads),
              row.msPerStep.map { number($0, 3) + mark(row.trustworthy) } ?? "–",
              row.msPerStep == nil ? "–" : noiseCell(row.noise ?? row.spread ?? 0, floor: row.noiseFloor),
              String(row.samplesMs.count), row.gflops.map { number($0, 1) } ?? "–", row.percentOfPeak.map { number($0, 1) } ?? "–",
              row.compiledMs.map { number($0, 3) } ?? "–", speedup, parity]
    } }
  }

  /// Marks a noise its class's floor set (`NoiseFloor`), rather than the figure's own rounds.
  public static let floorMark = "ᶠ"

  /// `12.3 %`, or `14.1 % ᶠ` when the floor is what set it.
  static func noiseCell(_ noise: Double, floor: Double?) -> String {
    number(100 * noise, 1) + " %" + (floor.map { $0 > 0 && $0 >= noise ? " " + floorMark : "" } ?? "")
  }

  static func noiseFloorTable(_ floors: [NoiseFloor], rounds: Int) -> ReportTable {
    let columns = Array(1...Swift.max(rounds, 1))
    return ReportTable(
      title: "Noise floors",
      header: ["class", "figures pooled", "round medians", "confidence"] + columns.map { "\($0) round\($0 == 1 ? "" : "s")" },
      rows: floors.map { floor in
        [floor.figureClass, String(floor.figures), String(floor.residuals), number(100 * floor.confidence, 0) + " %"]
          + columns.map { number(100 * floor.floor(rounds: $0), 1) + " %" }
      },
      caption: ["How far a re-run's median over so many rounds may land from this run's, from every figure of the class together: "
        + "each figure's round medians about their mean (as logs, leverage-corrected) are pooled, two runs are drawn from the pool "
        + "(a seeded bootstrap) and the gap between their medians is taken at the confidence shown. A figure's noise is never "
        + "below its class's floor; \(floorMark) marks a noise the floor set. Per-step figures (models, peers) make the team-size "
        + "classes, which also cover generation, compile and kernel benchmarks (one visit); kernels at or above "
        + number(ReportComparison.defaultKernelResolutionMs, 0) + " ms make their own."])
  }

  static func order(_ executor: String) -> Int { BenchExecutor(rawValue: executor).flatMap { BenchExecutor.allCases.firstIndex(of: $0) } ?? 99 }

  /// Models with a compiled headline figure: the whole-model points of the contrast roofline.
  static func contrastPoints(_ report: BenchReport) -> [(model: ModelSection, result: CaseResult)] {
    report.models.compactMap { model in model.executors[BenchExecutor.compiled.rawValue].map { (model, $0) } }
  }

  static var generationUnavailableLine: String {
    "Generation is not available in this build: no end-to-end row was measured."
  }

  static func introduction(_ report: BenchReport) -> [String] {
    var lines = ["Suite `\(report.suite.name)` (\(report.suite.file)) on \(report.host.name), \(report.createdAt), "
      + String(format: "%.0f s in all.", report.durationSeconds)]
    if !report.suite.description.isEmpty { lines.append(report.suite.description) }
    let rounds = report.suite.rounds ?? 1
    lines.append("Every figure is the median of its samples, taken in \(rounds) round\(rounds == 1 ? "" : "s") spread over the run "
      + "(each round visits every case and takes its share of the repetitions). Its noise is the larger of the spread within a round "
      + "((max − min) / median of one round's samples, the largest over the rounds) and the drift between rounds ((highest − lowest "
      + "round median) / median), and never below the noise floor of its class (the table at the end, \(floorMark) where it set the "
      + "noise): how far a re-run's figure may land from this one. \(untrustedMark) marks a figure whose own rounds disagree by more than "
      + String(format: "%.0f %%", 100 * report.spreadThreshold) + ": it is not trustworthy, re-run it on a quiet machine."
      + (rounds == 1 ? " With one round the drift between rounds is not measured: the noise is the jitter of back-to-back samples only." : ""))
    return lines
  }

  // MARK: Markdown

  public static func markdown(_ report: BenchReport) -> String {
    var out = "# Kiln benchmark report\n\n" + introduction(report).joined(separator: "\n") + "\n"
    if !report.notes.isEmpty { out += "\n" + report.notes.map { "- " + $0 }.joined(separator: "\n") + "\n" }
    for table in tables(report) {
      out += "\n## \(table.title)\n\n" + table.caption.map { $0 + "\n" }.joined() + (table.caption.isEmpty ? "" : "\n")
      if table.title == "End-to-end generation" && !report.generation.available {
        out += generationUnavailableLine + "\n"
        continue
      }
      if table.rows.isEmpty {
        out += "Nothing measured.\n"
        continue
      }
      out += "| " + table.header.map(markdownCell).joined(separator: " | ") + " |\n"
      out += "|" + table.header.map { _ in " --- " }.joined(separator: "|") + "|\n"
      for row in table.rows { out += "| " + row.map(markdownCell).joined(separator: " | ") + " |\n" }
    }
    return out
  }

  static func markdownCell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }

  // MARK: HTML

  public static func html(_ report: BenchReport) -> String {
    var body = "<h1>Kiln benchmark report</h1>\n" + introduction(report).map { "<p>\(SVGChart.escape($0))</p>" }.joined(separator: "\n")
    if !report.notes.isEmpty { body += "<ul class=\"notes\">" + report.notes.map { "<li>\(SVGChart.escape($0))</li>" }.joined() + "</ul>\n" }
    let charts = self.charts(report)
    for table in tables(report) {
      body += "<h2>\(SVGChart.escape(table.title))</h2>\n" + table.caption.map { "<p>\(SVGChart.escape($0))</p>\n" }.joined()
      for chart in charts[table.title] ?? [] { body += "<figure>\(chart)</figure>\n" }
      if table.title == "End-to-end generation" && !report.generation.available {
        body += "<p>\(generationUnavailableLine)</p>\n"
        continue
      }
      if table.rows.isEmpty {
        body += "<p>Nothing measured.</p>\n"
        continue
      }
      let hasHeader = table.header.contains { !$0.isEmpty }
      body += "<table>" + (hasHeader ? "<thead><tr>" + table.header.map { "<th>\(SVGChart.escape($0))</th>" }.joined() + "</tr></thead>" : "")
        + "<tbody>\n"
      for row in table.rows {
        body += "<tr>" + row.map { cell in
          let untrusted = cell.hasSuffix(untrustedMark)
          // Figures stay on one line ("1375.3 %", "2.4e-06"); only long text (settings, errors) wraps.
          let classes = (untrusted ? ["untrusted"] : []) + (cell.count > 40 ? ["text"] : [])
          let classAttribute = classes.isEmpty ? "" : " class=\"\(classes.joined(separator: " "))\""
          return "<td\(classAttribute)\(untrusted ? " title=\"noise above threshold: not trustworthy\"" : "")>\(SVGChart.escape(cell))</td>"
        }.joined() + "</tr>\n"
      }
      body += "</tbody></table>\n"
    }
    return """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8"><title>Kiln report: \(SVGChart.escape(report.suite.name)) on \(SVGChart.escape(report.host.name))</title>
      <style>
      body { font-family: sans-serif; margin: 24px; max-width: 1300px; color: #222; }
      table { border-collapse: collapse; margin: 8px 0 24px; font-size: 13px; }
      th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
      th { background: #f3f3f3; }
      td { white-space: nowrap; }
      td.text { white-space: normal; min-width: 260px; }
      td.untrusted { background: #fff3cd; }
      figure { margin: 8px 0; }
      .notes { color: #8a5a00; }
      </style></head><body>
      \(body)
      </body></html>

      """
  }

  /// The charts, keyed by the table they sit above.
  static func charts(_ report: BenchReport) -> [String: [String]] {
    var charts: [String: [String]] = [:]
    let host = report.host
    let headline = report.models.flatMap { model in model.executors.values.map { SVGChart.Bar(label: model.name, series: $0.executor, value: $0.gflops, trustworthy: $0.trustworthy) } }
      .sorted { order($0.series) < order($1.series) }
    if !headline.isEmpty {
      charts["Models: time per step (headline: first profile, all threads)"] = [SVGChart.groupedBars(
        title: "GFLOP/s per executor (higher is better)", unit: "GFLOP/s", categories: report.models.map(\.name), bars: headline)]
    }
    // Speedups rather than times: one scale for models whose steps differ by orders of magnitude.
    let peerBars = report.models.flatMap { model in model.peers.compactMap { row in
      row.compiledSpeedup.map { SVGChart.Bar(label: model.name, series: row.peer, value: $0, trustworthy: row.trustworthy) }
    } }
    if !peerBars.isEmpty {
      charts[peersTitle] = [SVGChart.groupedBars(
        title: "Speedup of compiled over each peer (above 1×: compiled is faster; parity failures left out)",
        unit: "× (peer ms ÷ compiled ms)", categories: SVGChart.orderedUnique(peerBars.map(\.label)), bars: peerBars,
        references: [(1, "1×")])]
    }
    let scaling = report.models.flatMap { model in model.threadScaling.map { scaling in
      SVGChart.Bar(label: model.name, series: scaling.executor, value: scaling.speedup, trustworthy: scaling.trustworthy)
    } }
    if !scaling.isEmpty {
      let threads = report.models.flatMap(\.threadScaling).map(\.threads).max() ?? host.cores
      charts["Thread scaling (1 → all)"] = [SVGChart.groupedBars(
        title: "Speedup from 1 to \(threads) threads (ideal: \(threads)×; below 1× is a slowdown)", unit: "× faster than 1 thread",
        categories: SVGChart.orderedUnique(scaling.map(\.label)), bars: scaling,
        references: [(1, "1×"), (Double(threads), "ideal \(threads)×")])]
    }
    // The templates that take the most time get the first (most distinct) colours.
    let templateSeconds = Dictionary(report.kernels.map { ($0.template, $0.seconds) }, uniquingKeysWith: +)
    let templates = templateSeconds.keys.sorted { (templateSeconds[$0] ?? 0, $1) > (templateSeconds[$1] ?? 0, $0) }
    var rooflines: [String] = []
    for model in SVGChart.orderedUnique(report.kernels.map(\.model)) {
      let rows = report.kernels.filter { $0.model == model }
      let threads = rows.first?.threads ?? host.cores
      rooflines.append(SVGChart.roofline(
        title: "\(model): kernels on the roofline (\(threads) threads)",
        points: rows.map { .init(label: "\($0.name) ×\($0.calls)", group: $0.template, intensity: $0.arithmeticIntensity, gflops: $0.gflops) },
        peak: host.peak(threads: threads), bandwidth: host.bandwidthGBs, groupOrder: templates))
    }
    if !rooflines.isEmpty { charts["Kernels (compiled; instances of one function summed)"] = rooflines }
    let contrast = contrastPoints(report)
    if !contrast.isEmpty {
      charts["Whole models on the roofline (compiled, all threads)"] = [SVGChart.roofline(
        title: "Whole models: FLOPs / compulsory bytes against achieved GFLOP/s",
        points: contrast.map { .init(label: $0.model.name, group: $0.model.family, intensity: $0.model.arithmeticIntensity, gflops: $0.result.gflops) },
        peak: host.peak(threads: host.cores), bandwidth: host.bandwidthGBs, labelPoints: true)]
    }
    if !report.generation.rows.isEmpty {
      charts["End-to-end generation"] = [SVGChart.stackedBars(
        title: "End-to-end generation: denoising and VAE decode", rows: report.generation.rows.map {
          (label: $0.name, parts: [("denoising", $0.median.denoiseSeconds), ("VAE decode", $0.median.vaeSeconds)])
        })]
    }
    return charts
  }
}
