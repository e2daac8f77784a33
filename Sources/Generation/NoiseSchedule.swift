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

  /// Training steps in the schedule (1000 for DiT).
  public var trainingSteps: Int { betas.count }

  /// ᾱ at step `t`; 1 before the first step (t < 0), as diffusers' `set_alpha_to_one` does for
  /// the last DDIM step.
  public func alphaCumprod(at t: Int) -> Double { t < 0 ? 1 : alphasCumprod[Swift.min(t, alphasCumprod.count - 1)] }

  /// `count` inference timesteps, descending, with diffusers' "leading" spacing:
  /// t_i = i · ⌊T / count⌋ for i = count − 1 … 0 (50 steps of 1000: 980, 960, …, 0).
  public func timesteps(count: Int) throws(GenerationError) -> [Int] {
    guard count >= 1, count <= trainingSteps else {
      throw GenerationError.invalidRequest("--steps must be in 1...\(trainingSteps), got \(count)")
    }
    let ratio = trainingSteps / count
    return (0..<count).reversed().map { $0 * ratio }
  }
}
