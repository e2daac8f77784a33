import Foundation
import Tracer

/// Seeded standard-normal draws: SplitMix64 for the bits, Box–Muller for the shape. The sequence
/// depends only on the seed, so one seed gives the same starting noise on every machine.
public struct GaussianNoise: Sendable {
  private var bits: SplitMix64
  private var spare: Float?

  public init(seed: UInt64) {
    bits = SplitMix64(seed: seed ^ 0x6B69_6C6E_6E6F_6973)  // so that seed 0 does not start from state 0
  }

  private mutating func nextBits() -> UInt64 { bits.next() }

  /// One N(0, 1) draw.
  public mutating func next() -> Float {
    if let spare {
      self.spare = nil
      return spare
    }
    let u1 = (Double(nextBits() >> 11) + 1) / Double(1 << 53)  // (0, 1]: log stays finite
    let u2 = Double(nextBits() >> 11) / Double(1 << 53)
    let radius = (-2 * Foundation.log(u1)).squareRoot()
    spare = Float(radius * Foundation.sin(2 * Double.pi * u2))
    return Float(radius * Foundation.cos(2 * Double.pi * u2))
  }

  /// `count` N(0, 1) draws.
  public mutating func next(count: Int) -> [Float] { (0..<count).map { _ in next() } }
}
