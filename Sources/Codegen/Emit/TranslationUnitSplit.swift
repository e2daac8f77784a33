/// Assigns a module's kernel functions to translation units so the C compiler can build them on
/// several cores at once (see "Translation units" in kiln_abi.h). Cold compile time is almost all
/// the compiler's back end over the template instances (DiT-XL/2: 11 GEMM instances of ~20 KB of
/// machine code each), so the split balances an estimate of each function's code, not its count.
struct TranslationUnitSplit {
  /// Parts the module is split into; part 0 also holds the weight packing and the schedule.
  static let maximumParts = 2
  /// Below this much estimated code a second compiler process costs more (a second parse of the
  /// template prelude, a link) than it saves.
  static let minimumWeightToSplit = 24

  let parts: Int
  /// Every function, prototyped and then defined inside `#if KILN_IN_PART(p)`.
  let kernelSection: String

  init(functions: [String], templates: [String], calls: Int) {
    let weights = templates.map(Self.codeWeight)
    let prototypes = functions.map(Self.prototype)
    let total = weights.reduce(0, +)
    guard total >= Self.minimumWeightToSplit, prototypes.allSatisfy({ $0 != nil }) else {
      parts = 1
      kernelSection = "\n/* ---- kernel instances ---- */\n\n" + functions.joined(separator: "\n")
      return
    }
    parts = Self.maximumParts
    // Greedy, heaviest first, onto the lightest part; part 0 starts with the schedule's share.
    var load = [Int](repeating: 0, count: parts)
    load[0] = calls / 32
    var owner = [Int](repeating: 0, count: functions.count)
    for index in functions.indices.sorted(by: { (weights[$0], $1) > (weights[$1], $0) }) {
      let part = load.indices.min { load[$0] < load[$1] }!
      owner[index] = part
      load[part] += weights[index]
    }
    var text = "\n/* ---- kernel instances (\(parts) translation units) ---- */\n\n"
    for prototype in prototypes { text += prototype! + "\n" }
    for (index, function) in functions.enumerated() {
      let definition = "KILN_KERNEL_FN void" + function.dropFirst(Self.staticVoid.count)
      text += "\n#if KILN_IN_PART(\(owner[index]))\n" + definition + "#endif\n"
    }
    kernelSection = text
  }

  static let staticVoid = "static void"

  /// `KILN_KERNEL_FN void f3_gemm(...);`, or nil when the function does not open the way every
  /// lowering writes it (then the module is compiled whole).
  static func prototype(_ function: String) -> String? {
    guard function.hasPrefix(staticVoid), let brace = function.firstIndex(of: "{") else { return nil }
    let signature = function[function.index(function.startIndex, offsetBy: staticVoid.count)..<brace]
    return "KILN_KERNEL_FN void" + signature.trimmingTrailingWhitespace() + ";"
  }

  /// A rough share of generated code: template instances unroll a register-blocked micro-kernel
  /// with its epilogue tails; loop nests and norms are a few hundred bytes.
  static func codeWeight(template: String) -> Int {
    switch template {
    case "gemm", "conv2d": return 10
    case "attention": return 4
    default: return 1
    }
  }
}

extension Substring {
  fileprivate func trimmingTrailingWhitespace() -> Substring {
    var end = endIndex
    while end > startIndex, self[index(before: end)].isWhitespace { end = index(before: end) }
    return self[startIndex..<end]
  }
}
