import Testing
import Tracer

/// Relative error ‖out − ref‖₂ / ‖ref‖₂, the measure every numerical test in Kiln uses.
public func relativeError(_ output: [Double], _ reference: [Double]) -> Double {
  precondition(output.count == reference.count, "relativeError: \(output.count) values against \(reference.count)")
  var difference = 0.0
  var norm = 0.0
  for (o, r) in zip(output, reference) {
    difference += (o - r) * (o - r)
    norm += r * r
  }
  return norm == 0 ? difference.squareRoot() : (difference / norm).squareRoot()
}

/// The fp32 tolerance of DESIGN.md: relative error within 1e-4 of the Double reference.
public let float32Tolerance = 1e-4

/// Records an issue unless `actual` has `expected`'s shape, only finite values, and a relative
/// error within `tolerance`. The message names what was compared and the seed that drew the inputs.
public func assertClose(_ actual: HostTensor, _ expected: HostTensor, tolerance: Double, seed: UInt64? = nil,
                        _ what: String = "output", sourceLocation: SourceLocation = #_sourceLocation) {
  let replay = seed.map { " (seed \($0))" } ?? ""
  guard actual.shape == expected.shape, actual.values.count == expected.values.count else {
    Issue.record("\(what): shape \(actual.shape) differs from the reference's \(expected.shape)\(replay)",
                 sourceLocation: sourceLocation)
    return
  }
  if let bad = actual.values.firstIndex(where: { !$0.isFinite }), expected.values[bad].isFinite {
    Issue.record("\(what): element \(bad) is \(actual.values[bad]), the reference has \(expected.values[bad])\(replay)",
                 sourceLocation: sourceLocation)
    return
  }
  let error = relativeError(actual.values, expected.values)
  if !(error <= tolerance) {
    Issue.record("\(what): relative error \(error) exceeds \(tolerance)\(replay)", sourceLocation: sourceLocation)
  }
}

/// Compares every named output of two evaluations with `assertClose`.
public func assertClose(_ actual: [String: HostTensor], _ expected: [String: HostTensor], tolerance: Double,
                        seed: UInt64? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
  if Set(actual.keys) != Set(expected.keys) {
    Issue.record("outputs \(actual.keys.sorted()) differ from the reference's \(expected.keys.sorted())",
                 sourceLocation: sourceLocation)
  }
  for name in expected.keys.sorted() {
    guard let value = actual[name], let reference = expected[name] else { continue }
    assertClose(value, reference, tolerance: tolerance, seed: seed, "output '\(name)'", sourceLocation: sourceLocation)
  }
}
