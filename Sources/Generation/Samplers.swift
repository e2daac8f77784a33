import Foundation

/// Deterministic DDIM (Song et al., 2021) with η = 0 over a `NoiseSchedule`: from x_t and the
/// predicted noise ε, x₀ = (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t and x_prev = √ᾱ_prev·x₀ + √(1−ᾱ_prev)·ε.
/// No clipping of x₀ (DiT's latents are not bounded).
public struct DDIMSampler: Sendable {
  public let schedule: NoiseSchedule
  /// Model timesteps, descending.
  public let timesteps: [Int]

  public init(schedule: NoiseSchedule = NoiseSchedule(), steps: Int) throws(GenerationError) {
    self.schedule = schedule
    timesteps = try schedule.timesteps(count: steps)
  }

  /// The timestep the step after `index` lands on (−1 past the last one: ᾱ = 1, a clean sample).
  func previousTimestep(_ index: Int) -> Int { index + 1 < timesteps.count ? timesteps[index + 1] : -1 }

  /// x₀ predicted from x_t and ε at timestep t.
  public func predictedOriginal(sample: [Float], noise: [Float], timestep: Int) -> [Float] {
    let alpha = schedule.alphaCumprod(at: timestep)
    let (a, b) = (alpha.squareRoot(), (1 - alpha).squareRoot())
    return zip(sample, noise).map { Float((Double($0) - b * Double($1)) / a) }
  }

  /// One step: x_t at `timesteps[index]` to the sample at the next timestep.
  public func step(sample: [Float], noise: [Float], index: Int) -> [Float] {
    let original = predictedOriginal(sample: sample, noise: noise, timestep: timesteps[index])
    let previous = schedule.alphaCumprod(at: previousTimestep(index))
    let (a, b) = (previous.squareRoot(), (1 - previous).squareRoot())
    return zip(original, noise).map { Float(a * Double($0) + b * Double($1)) }
  }
}

/// Ancestral DDPM (Ho et al., 2020) over the respaced timesteps, with DiT's learned-range
/// variance when the model predicts it (Nichol & Dhariwal, 2021): the σ channels v ∈ [−1, 1]
/// interpolate the log-variance between the posterior variance β̃_t and β_t,
/// log σ² = ((v+1)/2)·log β_t + (1 − (v+1)/2)·log β̃_t, with β_t = 1 − ᾱ_t/ᾱ_prev for the respaced
/// step (diffusers' `DDPMScheduler` with `variance_type="learned_range"`). Without σ channels the
/// variance is β̃_t ("fixed_small").
public struct DDPMSampler: Sendable {
  public let schedule: NoiseSchedule
  public let timesteps: [Int]

  public init(schedule: NoiseSchedule = NoiseSchedule(), steps: Int) throws(GenerationError) {
    self.schedule = schedule
    timesteps = try schedule.timesteps(count: steps)
  }

  /// One step. `varianceValues` are the model's σ channels (same count as `sample`), or nil;
  /// `noise` gives the fresh Gaussian draw (not used on the last step, which adds no noise).
  public func step(sample: [Float], predictedNoise: [Float], varianceValues: [Float]?, index: Int,
                   noise: inout GaussianNoise) -> [Float] {
    let t = timesteps[index]
    let previousT = index + 1 < timesteps.count ? timesteps[index + 1] : -1
    let alpha = schedule.alphaCumprod(at: t)
    let previous = schedule.alphaCumprod(at: previousT)
    let beta = 1 - alpha / previous
    let posteriorVariance = (1 - previous) / (1 - alpha) * beta
    // x_prev mean = c₀·x₀ + c_t·x_t with x₀ from ε.
    let originalCoefficient = previous.squareRoot() * beta / (1 - alpha)
    let sampleCoefficient = (1 - beta).squareRoot() * (1 - previous) / (1 - alpha)
    let (a, b) = (alpha.squareRoot(), (1 - alpha).squareRoot())
    let isLast = previousT < 0
    let minLog = Foundation.log(Swift.max(posteriorVariance, 1e-20))
    let maxLog = Foundation.log(beta)
    var result = [Float](repeating: 0, count: sample.count)
    for i in sample.indices {
      let x = Double(sample[i])
      let original = (x - b * Double(predictedNoise[i])) / a
      var value = originalCoefficient * original + sampleCoefficient * x
      if !isLast {
        let logVariance: Double
        if let varianceValues {
          let fraction = (Double(varianceValues[i]) + 1) / 2
          logVariance = fraction * maxLog + (1 - fraction) * minLog
        } else {
          logVariance = minLog
        }
        value += Foundation.exp(0.5 * logVariance) * Double(noise.next())
      }
      result[i] = Float(value)
    }
    return result
  }
}

/// Flow-matching Euler (rectified flow): the model predicts the velocity v = dx/dσ and each step
/// moves x by (σ_{i+1} − σ_i)·v, from σ₀ (≈ 1, pure noise) to 0 (the clean latent).
public struct FlowMatchEulerSampler: Sendable {
  /// σ per step, descending, plus the final 0: `steps + 1` values.
  public let sigmas: [Double]

  public init(sigmas: [Double]) throws(GenerationError) {
    guard sigmas.count >= 2, sigmas.allSatisfy({ $0.isFinite }) else {
      throw GenerationError.invalidRequest("flow-matching schedule needs at least one step of finite σ")
    }
    self.sigmas = sigmas
  }

  public var steps: Int { sigmas.count - 1 }

  public func step(sample: [Float], velocity: [Float], index: Int) -> [Float] {
    let delta = sigmas[index + 1] - sigmas[index]
    return zip(sample, velocity).map { Float(Double($0) + delta * Double($1)) }
  }

  /// FLUX.1's schedule: σ linear from 1 to 1/steps, shifted by the resolution-dependent μ
  /// (σ' = e^μ / (e^μ + 1/σ − 1)), then 0. μ is linear in the image token count, 0.5 at 256
  /// tokens and 1.15 at 4096 (diffusers' `calculate_shift` defaults for FLUX.1).
  public static func flux(steps: Int, imageTokens: Int) throws(GenerationError) -> FlowMatchEulerSampler {
    guard steps >= 1 else { throw GenerationError.invalidRequest("--steps must be at least 1, got \(steps)") }
    let mu = fluxShift(imageTokens: imageTokens)
    let base = (0..<steps).map { i in steps == 1 ? 1 : 1 - Double(i) * (1 - 1 / Double(steps)) / Double(steps - 1) }
    let shifted = base.map { Foundation.exp(mu) / (Foundation.exp(mu) + (1 / $0 - 1)) }
    return try FlowMatchEulerSampler(sigmas: shifted + [0])
  }

  /// μ for `imageTokens` packed latent tokens.
  public static func fluxShift(imageTokens: Int, baseTokens: Int = 256, maxTokens: Int = 4096,
                               baseShift: Double = 0.5, maxShift: Double = 1.15) -> Double {
    let slope = (maxShift - baseShift) / Double(maxTokens - baseTokens)
    return baseShift + slope * Double(imageTokens - baseTokens)
  }

  /// Wan's schedule: σ linear from 1 down to 1/steps, each shifted by `wanShift`, then 0.
  public static func wan(steps: Int, shift: Double) throws(GenerationError) -> FlowMatchEulerSampler {
    guard steps >= 1 else { throw GenerationError.invalidRequest("--steps must be at least 1, got \(steps)") }
    guard shift > 0, shift.isFinite else { throw GenerationError.invalidRequest("--shift must be positive, got \(shift)") }
    let base = (0..<steps).map { 1 - Double($0) / Double(steps) }
    return try FlowMatchEulerSampler(sigmas: base.map { wanShift($0, shift: shift) } + [0])
  }

  /// σ' = shift·σ / (1 + (shift − 1)·σ): more of the steps spent at high noise when shift > 1.
  public static func wanShift(_ sigma: Double, shift: Double) -> Double { shift * sigma / (1 + (shift - 1) * sigma) }
}

/// Classifier-free guidance as diffusers' `DiTPipeline` applies it to a batch of two
/// (conditional first, null class second): only the first `latentChannels` channels (ε) are
/// guided, ε = ε_u + s·(ε_c − ε_u); the learned-σ channels that follow are the conditional half's.
public enum ClassifierFreeGuidance {
  /// `output` is [2, outChannels, h, w]; returns (guided ε, σ channels of the conditional half or
  /// nil when the model has none), each [latentChannels·h·w].
  public static func apply(output: [Float], outChannels: Int, latentChannels: Int, plane: Int, scale: Float)
    -> (noise: [Float], varianceValues: [Float]?)
  {
    let perSample = outChannels * plane
    let epsCount = latentChannels * plane
    var noise = [Float](repeating: 0, count: epsCount)
    for i in 0..<epsCount {
      let conditional = output[i]
      let unconditional = output[perSample + i]
      noise[i] = unconditional + scale * (conditional - unconditional)
    }
    let variance = outChannels >= 2 * latentChannels ? Array(output[epsCount..<(2 * epsCount)]) : nil
    return (noise, variance)
  }
}
