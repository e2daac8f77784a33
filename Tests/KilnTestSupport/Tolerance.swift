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
