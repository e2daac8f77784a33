import Foundation
import Testing
@testable import Generation

@Suite struct SamplerTests {
  static func draws(_ count: Int, seed: UInt64) -> [Float] {
    var noise = GaussianNoise(seed: seed)
    return noise.next(count: count)
  }

  @Test func leadingTimestepsOfFiftyStepsRunFrom980DownToZero() throws {
    let timesteps = try NoiseSchedule().timesteps(count: 50)
    #expect(timesteps.count == 50)
    #expect(timesteps.first == 980)
    #expect(timesteps.last == 0)
    #expect(zip(timesteps, timesteps.dropFirst()).allSatisfy { $0 - $1 == 20 })
    #expect(throws: GenerationError.self) { try NoiseSchedule().timesteps(count: 0) }
    #expect(throws: GenerationError.self) { try NoiseSchedule().timesteps(count: 1001) }
  }

  @Test func ddimWithTheTrueNoiseReproducesTheCleanSampleExactly() throws {
    let count = 37
    let clean = Self.draws(count, seed: 11)
    let trueNoise = Self.draws(count, seed: 12)
    let sampler = try DDIMSampler(steps: 25)
    let start = sampler.schedule.alphaCumprod(at: sampler.timesteps[0])
    var sample = zip(clean, trueNoise).map { Float(start.squareRoot() * Double($0) + (1 - start).squareRoot() * Double($1)) }
    for index in 0..<25 {
      // Along the way every intermediate sample is the forward process at that timestep.
      let predicted = sampler.predictedOriginal(sample: sample, noise: trueNoise, timestep: sampler.timesteps[index])
      #expect(zip(predicted, clean).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
      sample = sampler.step(sample: sample, noise: trueNoise, index: index)
    }
    let worst = zip(sample, clean).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= 1e-5, "largest difference \(worst)")
  }

  @Test func ddpmStepMatchesTheHandComputedPosteriorWithLearnedRangeVariance() throws {
    let sampler = try DDPMSampler(steps: 10)
    let (index, x, eps) = (3, Float(0.7), Float(-0.4))
    let t = sampler.timesteps[index]
    let previousT = sampler.timesteps[index + 1]
    #expect((t, previousT) == (600, 500))
    let alpha = sampler.schedule.alphasCumprod[t]
    let previous = sampler.schedule.alphasCumprod[previousT]
    let beta = 1 - alpha / previous
    let x0 = (Double(x) - (1 - alpha).squareRoot() * Double(eps)) / alpha.squareRoot()
    let mean = previous.squareRoot() * beta / (1 - alpha) * x0 + (1 - beta).squareRoot() * (1 - previous) / (1 - alpha) * Double(x)
    let posterior = (1 - previous) / (1 - alpha) * beta
    var drawn = GaussianNoise(seed: 5)
    let z = Double(drawn.next())
    for (v, variance) in [(Float(1), beta), (Float(-1), posterior), (Float(0), (beta * posterior).squareRoot())] {
      var noise = GaussianNoise(seed: 5)
      let result = sampler.step(sample: [x], predictedNoise: [eps], varianceValues: [v], index: index, noise: &noise)
      let expected = mean + variance.squareRoot() * z
      #expect(abs(Double(result[0]) - expected) <= 1e-6, "v = \(v): \(result[0]) vs \(expected)")
    }
    // The last step adds no noise and lands on x₀ (ᾱ_prev = 1).
    var noise = GaussianNoise(seed: 5)
    let last = sampler.step(sample: [x], predictedNoise: [eps], varianceValues: [1], index: 9, noise: &noise)
    let alphaLast = sampler.schedule.alphasCumprod[sampler.timesteps[9]]
    #expect(abs(Double(last[0]) - (Double(x) - (1 - alphaLast).squareRoot() * Double(eps)) / alphaLast.squareRoot()) <= 1e-6)
  }

  @Test func flowEulerIntegratesAConstantVelocityExactly() throws {
    let start = Self.draws(29, seed: 21)
    let velocity = Self.draws(29, seed: 22)
    for sampler in [try FlowMatchEulerSampler.wan(steps: 7, shift: 5), try FlowMatchEulerSampler.flux(steps: 9, imageTokens: 1024)] {
      var sample = start
      for index in 0..<sampler.steps { sample = sampler.step(sample: sample, velocity: velocity, index: index) }
      let travelled = sampler.sigmas.last! - sampler.sigmas.first!
      for i in sample.indices {
        #expect(abs(Double(sample[i]) - (Double(start[i]) + travelled * Double(velocity[i]))) <= 1e-5)
      }
    }
  }

  @Test func wanShiftAtAFewSigmas() throws {
    let expected: [(Double, Double)] = [(0, 0), (0.2, 1.0 / 1.8), (0.5, 2.5 / 3), (0.9, 4.5 / 4.6), (1, 1)]
    for (sigma, shifted) in expected {
      #expect(abs(FlowMatchEulerSampler.wanShift(sigma, shift: 5) - shifted) <= 1e-12, "σ = \(sigma)")
    }
    #expect(FlowMatchEulerSampler.wanShift(0.3, shift: 1) == 0.3)
    let sampler = try FlowMatchEulerSampler.wan(steps: 4, shift: 5)
    #expect(sampler.sigmas.count == 5)
    #expect(sampler.sigmas[0] == 1 && sampler.sigmas[4] == 0)
    #expect(abs(sampler.sigmas[2] - 2.5 / 3) <= 1e-12)
  }

  @Test func fluxShiftIsLinearInTheImageTokenCount() throws {
    #expect(abs(FlowMatchEulerSampler.fluxShift(imageTokens: 256) - 0.5) <= 1e-12)
    #expect(abs(FlowMatchEulerSampler.fluxShift(imageTokens: 4096) - 1.15) <= 1e-12)
    let sampler = try FlowMatchEulerSampler.flux(steps: 4, imageTokens: 4096)
    // σ = 0.5 shifted by μ = 1.15: e^μ / (e^μ + 1).
    let base = 1 - 1 * (1 - 0.25) / 3  // the second of linspace(1, 1/4, 4)
    #expect(abs(sampler.sigmas[1] - exp(1.15) / (exp(1.15) + 1 / base - 1)) <= 1e-12)
    #expect(sampler.sigmas[0] == 1 && sampler.sigmas.last == 0)
  }

  @Test func guidanceMixesOnlyTheNoiseChannelsAndKeepsTheConditionalSigma() {
    let (latentChannels, plane) = (2, 3)
    let perSample = 2 * latentChannels * plane
    let output = (0..<(2 * perSample)).map { Float($0) * 0.5 }
    let guided = ClassifierFreeGuidance.apply(output: output, outChannels: 2 * latentChannels, latentChannels: latentChannels,
                                              plane: plane, scale: 4)
    for i in 0..<(latentChannels * plane) {
      let (conditional, unconditional) = (output[i], output[perSample + i])
      #expect(guided.noise[i] == unconditional + 4 * (conditional - unconditional))
    }
    #expect(guided.varianceValues == Array(output[(latentChannels * plane)..<perSample]))
    let withoutSigma = ClassifierFreeGuidance.apply(output: Array(output[0..<perSample]), outChannels: latentChannels,
                                                    latentChannels: latentChannels, plane: plane, scale: 2)
    #expect(withoutSigma.varianceValues == nil)
  }

  @Test func gaussianNoiseIsSeededAndStandardNormal() {
    let a = Self.draws(20_000, seed: 3)
    #expect(a == Self.draws(20_000, seed: 3))
    #expect(a != Self.draws(20_000, seed: 4))
    let mean = a.reduce(0, +) / Float(a.count)
    let variance = a.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(a.count)
    #expect(abs(mean) < 0.03)
    #expect(abs(variance - 1) < 0.05)
  }

  @Test func packingTwoByTwoPatchesRoundTripsAndFollowsFluxChannelOrder() {
    let (channels, gridHeight, gridWidth) = (3, 2, 5)
    let latent = (0..<(channels * 4 * gridHeight * gridWidth)).map(Float.init)
    let packed = MMDiTPipeline.pack(latent, channels: channels, gridHeight: gridHeight, gridWidth: gridWidth)
    #expect(MMDiTPipeline.unpack(packed, channels: channels, gridHeight: gridHeight, gridWidth: gridWidth) == latent)
    // Token (1, 2), channel 2, dy = 1, dx = 0 is latent[c = 2, y = 3, x = 4].
    let (height, width) = (2 * gridHeight, 2 * gridWidth)
    #expect(packed[(1 * gridWidth + 2) * channels * 4 + 2 * 4 + 1 * 2 + 0] == latent[(2 * height + 3) * width + 4])
  }
}
