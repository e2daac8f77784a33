import Foundation
import Tracer

/// The noise a figure's own rounds cannot show. A figure measured in three rounds has seen the
/// machine three times; a slow phase that lasts minutes may have missed all three, and a figure
/// taken once (a naive run) has no rounds to compare at all. Every figure of a class (same team
/// size, same kind of timer) runs on the same machine in the same run, so the class's round
/// medians together show how far one visit lands from another: the floor pools them.
///
/// Estimate: each figure's round medians as logs, minus their mean, scaled by √(k/(k−1)) (the
/// deviation of a fresh visit, not of a visit from a mean it helped make); then a seeded bootstrap
/// draws two runs of `r` visits from the pooled residuals and takes the `confidence` quantile of
/// |median − median| between them. That is how far a re-run's median of `r` rounds may land from
/// this one's, whatever this figure's own few rounds happened to see.
public struct NoiseFloor: Codable, Sendable, Equatable {
  /// Which figures were pooled, as the report names it ("1 thread", "kernels, 2 threads").
  public var figureClass: String
  public var threads: Int
  /// Figures with at least two round medians, and the residuals they gave.
  public var figures: Int
  public var residuals: Int
  public var confidence: Double
  /// `byRounds[r − 1]`: the floor, a fraction of the median, for a figure over `r` rounds.
  public var byRounds: [Double]

  /// At fewer residuals than this the pool says more about the few figures than about the machine.
  public static let minimumResiduals = 8
  public static let defaultConfidence = 0.99
  static let bootstrapTrials = 20_000

  /// The floor for a median over `rounds` round medians (the widest, one round, below one).
  public func floor(rounds: Int) -> Double {
    guard !byRounds.isEmpty else { return 0 }
    return byRounds[Swift.min(Swift.max(rounds, 1), byRounds.count) - 1]
  }

  /// nil when the figures give fewer than `minimumResiduals` residuals.
  public init?(figureClass: String, threads: Int, roundMedians: [[Double]], maxRounds: Int,
               confidence: Double = defaultConfidence) {
    let pooled = roundMedians.filter { $0.count > 1 && $0.allSatisfy { $0 > 0 } }
    let residuals = pooled.flatMap(Self.residuals)
    guard residuals.count >= Self.minimumResiduals, maxRounds >= 1 else { return nil }
    self.figureClass = figureClass
    self.threads = threads
    figures = pooled.count
    self.residuals = residuals.count
    self.confidence = confidence
    var generator = SplitMix64(seed: 0x6B69_6C6E_6E6F_6973)
    byRounds = (1...maxRounds).map { rounds in
      Self.bootstrapQuantile(residuals, rounds: rounds, confidence: confidence, generator: &generator)
    }
  }

  /// One figure's log round medians about their mean, leverage-corrected.
  static func residuals(_ roundMedians: [Double]) -> [Double] {
    let logs = roundMedians.map { Foundation.log($0) }
    let mean = logs.reduce(0, +) / Double(logs.count)
    let scale = (Double(logs.count) / Double(logs.count - 1)).squareRoot()
    return logs.map { ($0 - mean) * scale }
  }

  /// The `confidence` quantile of |e^(median of r draws − median of r draws) − 1|.
  static func bootstrapQuantile(_ residuals: [Double], rounds: Int, confidence: Double,
                                generator: inout SplitMix64) -> Double {
    var draws = [Double](repeating: 0, count: rounds)
    func medianOfDraws() -> Double {
      for index in 0..<rounds { draws[index] = residuals[Int(generator.next() % UInt64(residuals.count))] }
      draws.sort()
      return rounds % 2 == 1 ? draws[rounds / 2] : (draws[rounds / 2 - 1] + draws[rounds / 2]) / 2
    }
    var gaps = (0..<bootstrapTrials).map { _ in abs(medianOfDraws() - medianOfDraws()) }
    gaps.sort()
    let index = Swift.min(Int((confidence * Double(gaps.count)).rounded(.up)), gaps.count - 1)
    return Foundation.exp(gaps[index]) - 1
  }
}
