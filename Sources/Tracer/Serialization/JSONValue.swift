/// A parsed JSON document, kept close to the text: numbers stay as their literal so that integers
/// and Doubles are converted exactly, and object members keep their order so duplicates are seen.
///
/// The graph reader parses with this instead of `JSONSerialization` because a hostile file must be
/// refused with a message, never a crash or a silent rounding: `NSNumber` blurs integers and
/// Doubles, and a nesting depth limit is needed against stack exhaustion.
enum JSONValue: Equatable {
  case null
  case bool(Bool)
  /// The number's text, already checked against the JSON grammar.
  case number(String)
  case string(String)
  case array([JSONValue])
  case object([(key: String, value: JSONValue)])

  static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.number(let a), .number(let b)): return a == b
    case (.string(let a), .string(let b)): return a == b
    case (.array(let a), .array(let b)): return a == b
    case (.object(let a), .object(let b)):
      return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    default: return false
    }
  }

  /// What a message calls this value's type.
  var typeName: String {
    switch self {
    case .null: return "null"
    case .bool: return "a boolean"
    case .number: return "a number"
    case .string: return "a string"
    case .array: return "an array"
    case .object: return "an object"
    }
  }
}

/// Why a byte sequence is not JSON, and where.
struct JSONSyntaxError: Error {
  var offset: Int
  var message: String
}

/// A recursive-descent parser over UTF-8 bytes (RFC 8259), with a nesting limit.
struct JSONParser {
  static let maxDepth = 64

  private let bytes: [UInt8]
  private var position = 0

  private init(_ bytes: [UInt8]) { self.bytes = bytes }

  static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
    var parser = JSONParser(bytes)
    parser.skipWhitespace()
    let value = try parser.parseValue(depth: 0)
    parser.skipWhitespace()
    guard parser.position == bytes.count else { throw parser.error("unexpected text after the JSON value") }
    return value
  }

  private func error(_ message: String) -> JSONSyntaxError { JSONSyntaxError(offset: position, message: message) }

  private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

  private mutating func skipWhitespace() {
    while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
  }

  private mutating func expect(_ byte: UInt8, _ what: String) throws(JSONSyntaxError) {
    guard current == byte else { throw error(current == nil ? "unexpected end of input, expected \(what)" : "expected \(what)") }
    position += 1
  }

  private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
    guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth) levels") }
    guard let byte = current else { throw error("unexpected end of input, expected a value") }
    switch byte {
    case UInt8(ascii: "{"): return try parseObject(depth: depth)
    case UInt8(ascii: "["): return try parseArray(depth: depth)
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
    case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
    case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
    case UInt8(ascii: "n"): try parseLiteral("null"); return .null
    default: throw error("unexpected character, expected a value")
    }
  }

  private mutating func parseLiteral(_ word: String) throws(JSONSyntaxError) {
    for expected in word.utf8 {
      guard current == expected else { throw error("invalid literal, expected \(word)") }
      position += 1
    }
  }

  private mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
    position += 1
    var members: [(key: String, value: JSONValue)] = []
    skipWhitespace()
    if current == UInt8(ascii: "}") { position += 1; return .object(members) }
    while true {
      skipWhitespace()
      guard current == UInt8(ascii: "\"") else { throw error(current == nil ? "unexpected end of input in an object" : "expected a member name") }
      let key = try parseString()
      skipWhitespace()
      try expect(UInt8(ascii: ":"), "':' after a member name")
      skipWhitespace()
      members.append((key, try parseValue(depth: depth + 1)))
      skipWhitespace()
      if current == UInt8(ascii: ",") { position += 1; continue }
      try expect(UInt8(ascii: "}"), "',' or '}' in an object")
      return .object(members)
    }
  }

  private mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
    position += 1
    var elements: [JSONValue] = []
    skipWhitespace()
    if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
    while true {
      skipWhitespace()
      elements.append(try parseValue(depth: depth + 1))
      skipWhitespace()
      if current == UInt8(ascii: ",") { position += 1; continue }
      try expect(UInt8(ascii: "]"), "',' or ']' in an array")
      return .array(elements)
    }
  }

  private mutating func parseNumber() throws(JSONSyntaxError) -> String {
    let start = position
    func digits(_ parser: inout JSONParser) -> Int {
      var count = 0
      while let byte = parser.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { parser.position += 1; count += 1 }
      return count
    }
    if current == UInt8(ascii: "-") { position += 1 }
    if current == UInt8(ascii: "0") {
      position += 1
    } else {
      guard digits(&self) > 0 else { throw error("invalid number") }
    }
    if current == UInt8(ascii: ".") {
      position += 1
      guard digits(&self) > 0 else { throw error("invalid number: no digit after '.'") }
    }
    if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
      position += 1
      if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
      guard digits(&self) > 0 else { throw error("invalid number: no digit in the exponent") }
    }
    return String(decoding: bytes[start..<position], as: UTF8.self)
  }

  private mutating func parseString() throws(JSONSyntaxError) -> String {
    position += 1
    var utf8: [UInt8] = []
    while true {
      guard let byte = current else { throw error("unexpected end of input in a string") }
      position += 1
      switch byte {
      case UInt8(ascii: "\""):
        return try validatedString(utf8)
      case UInt8(ascii: "\\"):
        try parseEscape(into: &utf8)
      case 0x00..<0x20:
        throw error("unescaped control character in a string")
      default:
        utf8.append(byte)
      }
    }
  }

  private func validatedString(_ utf8: [UInt8]) throws(JSONSyntaxError) -> String {
    var scalars = String.UnicodeScalarView()
    var iterator = utf8.makeIterator()
    var decoder = UTF8()
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let scalar): scalars.append(scalar)
      case .emptyInput: return String(scalars)
      case .error: throw error("a string is not valid UTF-8")
      }
    }
  }

  private mutating func parseEscape(into utf8: inout [UInt8]) throws(JSONSyntaxError) {
    guard let byte = current else { throw error("unexpected end of input in a string escape") }
    position += 1
    let simple: [UInt8: UInt8] = [
      UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F, UInt8(ascii: "b"): 0x08,
      UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
    ]
    if let replacement = simple[byte] { utf8.append(replacement); return }
    guard byte == UInt8(ascii: "u") else { throw error("invalid escape in a string") }
    var scalar = try parseHex4()
    if (0xD800..<0xDC00).contains(scalar) {
      guard current == UInt8(ascii: "\\") else { throw error("unpaired surrogate in a string escape") }
      position += 1
      try expect(UInt8(ascii: "u"), "a low surrogate escape")
      let low = try parseHex4()
      guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate in a string escape") }
      scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
    }
    guard let unicode = Unicode.Scalar(scalar) else { throw error("unpaired surrogate in a string escape") }
    utf8.append(contentsOf: Array(String(Character(unicode)).utf8))
  }

  private mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let byte = current, let digit = hexDigitValue(byte) else { throw error("invalid \\u escape in a string") }
      value = value << 4 | digit
      position += 1
    }
    return value
  }

  private func hexDigitValue(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
    default: return nil
    }
  }
}

/// Writes JSON text deterministically: the caller chooses member order; numbers use Swift's
/// shortest round-trip form, so a Double read back is bit-identical.
enum JSONText {
  static func string(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  /// A finite Double as JSON: `description` is the shortest text that reads back to the same bits
  /// (`0.1`, `1e-06`, `-0.0`, `1e+300`), and all of its finite forms are valid JSON numbers.
  static func number(_ value: Double) -> String { value.description }

  static func integers(_ values: [Int]) -> String { "[" + values.map(String.init).joined(separator: ", ") + "]" }
}
