import Foundation

/// Writes an Encodable value as pretty, key-sorted JSON on standard output.
func printJSON<Value: Encodable>(_ value: Value) throws {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
  print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Human-readable counts: 675.13 M, 118.64 G.
func formatCount(_ value: Int) -> String { formatScaled(Double(value), units: ["", " K", " M", " G", " T", " P"]) }

/// Human-readable byte sizes (powers of 1024): 2.51 GiB.
func formatBytes(_ value: Int) -> String {
  var scaled = Double(value)
  var unit = 0
  let units = ["B", "KiB", "MiB", "GiB", "TiB"]
  while scaled >= 1024, unit < units.count - 1 {
    scaled /= 1024
    unit += 1
  }
  return unit == 0 ? "\(value) B" : String(format: "%.2f %@", scaled, units[unit])
}

private func formatScaled(_ value: Double, units: [String]) -> String {
  var scaled = value
  var unit = 0
  while abs(scaled) >= 1000, unit < units.count - 1 {
    scaled /= 1000
    unit += 1
  }
  return unit == 0 ? String(Int(value)) : String(format: "%.2f%@", scaled, units[unit])
}
