import Foundation

/// Hand-written SVG charts for the HTML report. Each data point is one element with a `data-point`
/// attribute, so a test (or a reader of the source) can count points against the data.
enum SVGChart {
  static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]

  struct RooflinePoint {
    var label: String
    var group: String
    var intensity: Double
    var gflops: Double
  }

  /// Log-log roofline: the bandwidth slope and the compute ceiling as lines, each point a circle
  /// coloured by its group (the template, or the model).
  /// `groupOrder` fixes each group's colour, so one template has one colour in every chart.
  static func roofline(title: String, points: [RooflinePoint], peak: Double, bandwidth: Double, groupOrder: [String] = [],
                       labelPoints: Bool = false) -> String {
    let (width, height) = (720.0, 420.0)
    let (left, right, top, bottom) = (70.0, 170.0, 30.0, 50.0)
    let plotted = points.filter { $0.intensity > 0 && $0.gflops > 0 }
    let ridge = bandwidth > 0 ? peak / bandwidth : 1
    let xs = plotted.map(\.intensity) + [ridge]
    let ys = plotted.map(\.gflops) + [peak]
    let xMin = pow(10, floor(log10(xs.min() ?? 0.1) - 0.2)), xMax = pow(10, ceil(log10(xs.max() ?? 100) + 0.2))
    let yMin = pow(10, floor(log10(ys.min() ?? 0.1) - 0.2)), yMax = pow(10, ceil(log10(peak * 1.5)))
    func x(_ v: Double) -> Double { left + (log10(v) - log10(xMin)) / (log10(xMax) - log10(xMin)) * (width - left - right) }
    func y(_ v: Double) -> Double { height - bottom - (log10(v) - log10(yMin)) / (log10(yMax) - log10(yMin)) * (height - top - bottom) }

    var svg = open(width: width, height: height, title: title)
    svg += axes(left: left, right: width - right, top: top, bottom: height - bottom)
    for decade in decades(xMin, xMax) {
      svg += line(x(decade), top, x(decade), height - bottom, stroke: "#eee")
      svg += text(x(decade), height - bottom + 16, format(decade), anchor: "middle")
    }
    for decade in decades(yMin, yMax) {
      svg += line(left, y(decade), width - right, y(decade), stroke: "#eee")
      svg += text(left - 6, y(decade) + 4, format(decade), anchor: "end")
    }
    // Memory slope up to the ridge, then the flat compute ceiling.
    let slopeStart = max(xMin, yMin / max(bandwidth, 1e-9))
    svg += line(x(slopeStart), y(max(bandwidth * slopeStart, yMin)), x(ridge), y(peak), stroke: "#444", width: 2, cssClass: "ceiling")
    svg += line(x(ridge), y(peak), x(xMax), y(peak), stroke: "#444", width: 2, cssClass: "ceiling")
    svg += text(x(xMax) - 4, y(peak) - 6, String(format: "peak %.0f GFLOP/s", peak), anchor: "end")
    svg += text(x(slopeStart) + 14, y(max(bandwidth * slopeStart, yMin)) + 14, String(format: "%.0f GB/s", bandwidth), anchor: "start")
    svg += text((left + width - right) / 2, height - 12, "arithmetic intensity (FLOP/byte)", anchor: "middle")
    svg += "<text x=\"16\" y=\"\((top + height - bottom) / 2)\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 \((top + height - bottom) / 2))\">GFLOP/s</text>\n"

    let colours = orderedUnique(groupOrder + plotted.map(\.group))
    let groups = orderedUnique(plotted.map(\.group))
    var placedLabels: [(x: Double, y: Double, width: Double)] = []
    for point in plotted {
      let colour = palette[(colours.firstIndex(of: point.group) ?? 0) % palette.count]
      svg += "<circle data-point=\"\(escape(point.label))\" cx=\(attr(x(point.intensity))) cy=\(attr(y(point.gflops))) r=\"5\" "
        + "fill=\"\(colour)\" fill-opacity=\"0.75\" stroke=\"#222\" stroke-width=\"0.5\"><title>\(escape(point.label)): "
        + String(format: "%.3g FLOP/B, %.3g GFLOP/s", point.intensity, point.gflops) + "</title></circle>\n"
      if labelPoints {
        // Right of the point, else left, above or below: the first place no earlier label covers.
        let (px, py) = (x(point.intensity), y(point.gflops))
        let labelWidth = 6.5 * Double(point.label.count)
        let candidates = [(px + 8, py + 4), (px - 8 - labelWidth, py + 4), (px - labelWidth / 2, py - 9), (px - labelWidth / 2, py + 17)]
        func overlaps(_ box: (Double, Double)) -> Bool {
          placedLabels.contains { $0.x < box.0 + labelWidth && box.0 < $0.x + $0.width && abs($0.y - box.1) < 12 }
        }
        let place = candidates.first { !overlaps($0) } ?? candidates[0]
        placedLabels.append((place.0, place.1, labelWidth))
        svg += text(place.0, place.1, point.label, anchor: "start")
      }
    }
    svg += legend(groups, x: width - right + 12, y: top, colourOrder: colours)
    return svg + "</svg>\n"
  }

  struct Bar {
    var label: String
    var series: String
    var value: Double
    var trustworthy: Bool
  }

  /// Grouped horizontal bars: one group per category, one bar per series; untrustworthy bars hatched.
  static func groupedBars(title: String, unit: String, categories: [String], bars: [Bar], references: [(value: Double, label: String)] = []) -> String {
    let series = orderedUnique(bars.map(\.series))
    let barHeight = 14.0, gap = 10.0
    // The right margin holds the longest bar's value label ("6.067 ⚠") and, beyond it, the legend.
    let left = labelMargin(categories), right = 200.0, width = 580.0 + left, top = 30.0
    let rowsPerGroup = Double(max(series.count, 1))
    let height = top + Double(categories.count) * (rowsPerGroup * barHeight + gap) + 30
    let maxValue = max(bars.map(\.value).max() ?? 1, references.map(\.value).max() ?? 0, 1e-9)
    var svg = open(width: width, height: height, title: title)
    svg += "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
      + "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#fff\" stroke-width=\"3\"/></pattern></defs>\n"
    var yCursor = top
    for category in categories {
      svg += text(left - 8, yCursor + rowsPerGroup * barHeight / 2 + 4, category, anchor: "end")
      for (index, name) in series.enumerated() {
        let rowY = yCursor + Double(index) * barHeight
        guard let bar = bars.first(where: { $0.label == category && $0.series == name }) else { continue }
        let length = max(1, bar.value / maxValue * (width - left - right))
        let colour = palette[index % palette.count]
        svg += "<rect data-point=\"\(escape(category + " " + name))\" x=\(attr(left)) y=\(attr(rowY)) width=\(attr(length)) "
          + "height=\(attr(barHeight - 2)) fill=\"\(colour)\"><title>\(escape(category)) \(escape(name)): "
          + String(format: "%.4g", bar.value) + " \(unit)\(bar.trustworthy ? "" : " (spread above threshold)")</title></rect>\n"
        if !bar.trustworthy {
          svg += "<rect x=\(attr(left)) y=\(attr(rowY)) width=\(attr(length)) height=\(attr(barHeight - 2)) fill=\"url(#hatch)\"/>\n"
        }
        svg += text(left + length + 4, rowY + barHeight - 4, String(format: "%.4g", bar.value) + (bar.trustworthy ? "" : " ⚠"), anchor: "start")
      }
      yCursor += rowsPerGroup * barHeight + gap
    }
    for reference in references {
      let referenceX = left + reference.value / maxValue * (width - left - right)
      svg += line(referenceX, top - 4, referenceX, yCursor, stroke: "#444", cssClass: "reference")
      svg += text(referenceX, yCursor + 12, reference.label, anchor: "middle")
    }
    svg += text(left, height - 8, unit, anchor: "start")
    svg += legend(series, x: width - right + 70, y: top)
    return svg + "</svg>\n"
  }

  /// Stacked horizontal bars (denoising then VAE decode) per generation row.
  static func stackedBars(title: String, rows: [(label: String, parts: [(name: String, value: Double)])]) -> String {
    let left = labelMargin(rows.map(\.label)), right = 150.0, width = 530.0 + left, top = 30.0, barHeight = 18.0
    let height = top + Double(rows.count) * (barHeight + 8) + 30
    let maxValue = max(rows.map { $0.parts.reduce(0) { $0 + $1.value } }.max() ?? 1, 1e-9)
    let names = orderedUnique(rows.flatMap { $0.parts.map(\.name) })
    var svg = open(width: width, height: height, title: title)
    for (index, row) in rows.enumerated() {
      let rowY = top + Double(index) * (barHeight + 8)
      svg += text(left - 8, rowY + barHeight - 5, row.label, anchor: "end")
      var xCursor = left
      for part in row.parts {
        let length = part.value / maxValue * (width - left - right)
        let colour = palette[(names.firstIndex(of: part.name) ?? 0) % palette.count]
        svg += "<rect data-point=\"\(escape(row.label + " " + part.name))\" x=\(attr(xCursor)) y=\(attr(rowY)) width=\(attr(max(length, 0.5))) "
          + "height=\(attr(barHeight)) fill=\"\(colour)\"><title>\(escape(part.name)): " + String(format: "%.3f s", part.value) + "</title></rect>\n"
        xCursor += length
      }
      svg += text(xCursor + 4, rowY + barHeight - 5, String(format: "%.2f s", row.parts.reduce(0) { $0 + $1.value }), anchor: "start")
    }
    svg += text(left, height - 8, "seconds", anchor: "start")
    svg += legend(names, x: width - right + 40, y: top)
    return svg + "</svg>\n"
  }

  // MARK: Pieces

  static func open(width: Double, height: Double, title: String) -> String {
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\(attr(width)) height=\(attr(height)) viewBox=\"0 0 \(Int(width)) \(Int(height))\" "
      + "font-family=\"sans-serif\" role=\"img\"><title>\(escape(title))</title>\n"
      + text(width / 2, 18, title, anchor: "middle", weight: "bold")
  }

  /// Room left of the bars for the longest row label (about 6.5 px a character at the chart's
  /// font size), never less than 190 px, so a label is never cut at the edge.
  static func labelMargin(_ labels: [String]) -> Double {
    max(190, 6.5 * Double(labels.map(\.count).max() ?? 0) + 16)
  }

  static func axes(left: Double, right: Double, top: Double, bottom: Double) -> String {
    line(left, top, left, bottom, stroke: "#000") + line(left, bottom, right, bottom, stroke: "#000")
  }

  static func legend(_ names: [String], x: Double, y: Double, colourOrder: [String]? = nil) -> String {
    var svg = ""
    for (index, name) in names.enumerated() {
      let rowY = y + Double(index) * 16
      let colourIndex = colourOrder?.firstIndex(of: name) ?? index
      svg += "<rect x=\(attr(x)) y=\(attr(rowY)) width=\"10\" height=\"10\" fill=\"\(palette[colourIndex % palette.count])\"/>\n"
      svg += text(x + 14, rowY + 9, name, anchor: "start")
    }
    return svg
  }

  static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1, cssClass: String? = nil) -> String {
    "<line\(cssClass.map { " class=\"\($0)\"" } ?? "") x1=\(attr(x1)) y1=\(attr(y1)) x2=\(attr(x2)) y2=\(attr(y2)) stroke=\"\(stroke)\" stroke-width=\(attr(width))/>\n"
  }

  static func text(_ x: Double, _ y: Double, _ content: String, anchor: String, weight: String = "normal") -> String {
    "<text x=\(attr(x)) y=\(attr(y)) font-size=\"12\" font-weight=\"\(weight)\" text-anchor=\"\(anchor)\">\(escape(content))</text>\n"
  }

  static func decades(_ low: Double, _ high: Double) -> [Double] {
    var values: [Double] = []
    var exponent = Int(floor(log10(low)))
    while exponent <= Int(ceil(log10(high))) {
      let value = pow(10, Double(exponent))
      if value >= low * 0.999 && value <= high * 1.001 { values.append(value) }
      exponent += 1
    }
    return values
  }

  static func format(_ value: Double) -> String { value >= 1 ? String(format: "%.0f", value) : String(format: "%g", value) }

  static func attr(_ value: Double) -> String { "\"" + String(format: "%.1f", value.isFinite ? value : 0) + "\"" }

  static func orderedUnique(_ values: [String]) -> [String] {
    var seen: Set<String> = []
    return values.filter { seen.insert($0).inserted }
  }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
