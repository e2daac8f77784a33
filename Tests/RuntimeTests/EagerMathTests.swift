import Foundation
@testable import Runtime
import Testing

/// The branch-free exp, tanh and sigmoid agree with the Double functions to two f32 ulp over the
/// whole range, and keep libm's behaviour at the edges (overflow, underflow, infinities, NaN).
@Suite struct EagerMathTests {
  /// Every 1/64 from -100 to 100, plus points around the polynomial and overflow boundaries.
  static let sweep: [Float] = (-6400...6400).map { Float($0) / 64 }
    + [0.624, 0.625, 0.626, -0.625, 1e-3, -1e-3, 1e-20, 88.72, 88.7228, -87.33, -87.34]

  private func expectWithinRelative(_ name: String, _ f: (Float) -> Float, _ reference: (Double) -> Double,
                                    tolerance: Double, where include: (Double) -> Bool = { _ in true }) {
    var worst = (error: 0.0, at: Float(0))
    for x in Self.sweep {
      let expected = reference(Double(x))
      guard include(expected), expected.isFinite, expected != 0 else { continue }
      let error = Swift.abs(Double(f(x)) - expected) / Swift.abs(expected)
      if error > worst.error { worst = (error, x) }
    }
    #expect(worst.error <= tolerance, "\(name): relative error \(worst.error) at x = \(worst.at)")
  }

  @Test func expIsWithinTwoUlpWhereTheResultIsNormal() {
    expectWithinRelative("exp", EagerMath.exp, Foundation.exp, tolerance: 2.4e-7,
                         where: { $0 >= Double(Float.leastNormalMagnitude) && $0 <= Double(Float.greatestFiniteMagnitude) })
  }

  @Test func tanhIsWithinTwoUlpEverywhere() {
    expectWithinRelative("tanh", EagerMath.tanh, Foundation.tanh, tolerance: 2.4e-7)
  }

  @Test func sigmoidIsWithinTwoUlpWhereTheResultIsNormal() {
    expectWithinRelative("sigmoid", EagerMath.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }, tolerance: 2.4e-7,
                         where: { $0 >= Double(Float.leastNormalMagnitude) })
  }

  @Test func edgesBehaveAsLibmDoes() {
    #expect(EagerMath.exp(89) == .infinity)
    #expect(EagerMath.exp(.infinity) == .infinity)
    #expect(EagerMath.exp(-.infinity) == 0)
    #expect(EagerMath.exp(-120) == 0)
    #expect(EagerMath.exp(88.72).isFinite)
    #expect(EagerMath.exp(0) == 1)
    #expect(EagerMath.exp(.nan).isNaN)
    #expect(EagerMath.tanh(.infinity) == 1)
    #expect(EagerMath.tanh(-.infinity) == -1)
    #expect(EagerMath.tanh(-30) == -1)
    #expect(EagerMath.tanh(0) == 0)
    #expect(EagerMath.tanh(.nan).isNaN)
    #expect(EagerMath.sigmoid(-200) == 0)
    #expect(EagerMath.sigmoid(200) == 1)
    #expect(EagerMath.sigmoid(.nan).isNaN)
  }
}
