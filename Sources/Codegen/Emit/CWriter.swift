/// Accumulates C source line by line with two-space indentation, so emitters write the shape of
/// the code (`open`, `line`, `close`) rather than juggling whitespace.
struct CWriter {
  private(set) var lines: [String] = []
  private var depth = 0

  mutating func line(_ text: String) {
    lines.append(String(repeating: "  ", count: depth) + text)
  }

  /// `header {` and one level deeper.
  mutating func open(_ header: String) {
    line(header + " {")
    depth += 1
  }

  /// A bare `{` block (for scoped temporaries).
  mutating func openBlock() {
    line("{")
    depth += 1
  }

  mutating func close() {
    depth -= 1
    line("}")
  }

  var text: String { lines.joined(separator: "\n") + "\n" }
}

enum CLiteral {
  /// `value` as a C float literal that reads back as the same Float (`0.5f`, `1e-05f`, `INFINITY`).
  static func float(_ value: Double) -> String {
    let single = Float(value)
    if single.isNaN { return "NAN" }
    if single.isInfinite { return single < 0 ? "(-INFINITY)" : "INFINITY" }
    let text = single.description
    let literal = text.contains(".") || text.contains("e") ? text + "f" : text + ".0f"
    return single < 0 ? "(" + literal + ")" : literal
  }

  /// `index * stride` for an element offset, leaving out a stride of 1 and parenthesizing negatives.
  static func product(_ index: String, _ stride: Int) -> String {
    if stride == 1 { return index }
    return stride < 0 ? "\(index) * (\(stride))" : "\(index) * \(stride)"
  }

  /// `i0 * s0 + …` over the terms whose stride is not 0; `0` when none is.
  static func sum(_ terms: [(index: String, stride: Int)]) -> String {
    let parts = terms.filter { $0.stride != 0 }.map { product($0.index, $0.stride) }
    return parts.isEmpty ? "0" : parts.joined(separator: " + ")
  }

  /// `base + i0 * s0 + …` over the terms whose stride is not 0; `base` alone when none is.
  static func offset(_ base: String, _ terms: [(index: String, stride: Int)]) -> String {
    let parts = terms.filter { $0.stride != 0 }.map { product($0.index, $0.stride) }
    return parts.isEmpty ? base : base + " + " + parts.joined(separator: " + ")
  }
}
