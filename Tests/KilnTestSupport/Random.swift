import Tracer

/// Sizes that catch tail handling and layout bugs: one, two, small primes, and one past and short
/// of powers of two.
public let awkwardSizes = [1, 2, 3, 5, 7, 11, 13, 15, 17, 31, 33]

/// One of `awkwardSizes`, at most `limit`.
public func randomAwkwardSize(upTo limit: Int = 33, using rng: inout SplitMix64) -> Int {
  let allowed = awkwardSizes.filter { $0 <= limit }
  return allowed.randomElement(using: &rng) ?? 1
}

/// Magnitude below which a random value is never drawn: keeps every value away from zero, so a
/// division or a relative error never meets one.
public let smallestRandomMagnitude = 1.0 / 16

/// Values in [-1, 1], never zero (|v| ≥ 1/16), random sign.
public func randomTensor(_ shape: Shape, using rng: inout SplitMix64) -> HostTensor {
  var values = [Double]()
  values.reserveCapacity(shape.elementCount)
  for _ in 0..<shape.elementCount {
    let magnitude = Double.random(in: smallestRandomMagnitude...1, using: &rng)
    values.append(Bool.random(using: &rng) ? magnitude : -magnitude)
  }
  return HostTensor(shape: shape, valuesCountingExactly: values)
}

/// Integers in `0..<bound`, stored as Doubles (the interpreter's form of i32).
public func randomIndices(_ shape: Shape, below bound: Int, using rng: inout SplitMix64) -> HostTensor {
  let values = (0..<shape.elementCount).map { _ in Double(Int.random(in: 0..<Swift.max(bound, 1), using: &rng)) }
  return HostTensor(shape: shape, valuesCountingExactly: values)
}

extension HostTensor {
  /// For helpers that produce exactly one value per element by construction.
  init(shape: Shape, valuesCountingExactly values: [Double]) {
    self.init(shape: shape, repeating: 0)
    self.values = values
  }
}
