/// The discrete DDPM noise schedule DiT was trained with: 1000 steps, β linear in [1e-4, 0.02].
public struct NoiseSchedule: Hashable, Sendable {
  public let betas: [Double]
  /// ᾱ_t = ∏_{s≤t} (1 − β_s).
  public let alphasCumprod: [Double]

  public init(steps: Int = 1000, betaStart: Double = 1e-4, betaEnd: Double = 0.02) {
    let count = Swift.max(steps, 1)
    let step = count > 1 ? (betaEnd - betaStart) / Double(count - 1) : 0
    betas = (0..<count).map { betaStart + step * Double($0) }
    var product = 1.0
    alphasCumprod = betas.map { beta in
      product *= 1 - beta
      return product
    }
  }
}
