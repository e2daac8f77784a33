/// How a suite's repetitions are spread over its rounds. A round visits every case of the suite
/// once, so the rounds of one case lie minutes apart: what the machine does between them (other
/// jobs, clocks, heat, page placement after a reload) shows up as drift between their medians,
/// which samples taken back to back cannot see.
public enum RoundSchedule {
  /// The repetitions round `round` (1-based) takes of `repetitions` spread over `rounds`: as even
  /// as can be, the earlier rounds taking one more each when they do not divide. A case with fewer
  /// repetitions than rounds (one long naive run) is visited only in the first rounds.
  public static func share(of repetitions: Int, rounds: Int, round: Int) -> Int {
    guard rounds >= 1, (1...rounds).contains(round), repetitions > 0 else { return 0 }
    return repetitions / rounds + (round <= repetitions % rounds ? 1 : 0)
  }

  /// The rounds that take at least one repetition, in order.
  public static func roundsVisited(repetitions: Int, rounds: Int) -> [Int] {
    guard rounds >= 1 else { return [] }
    return (1...rounds).filter { share(of: repetitions, rounds: rounds, round: $0) > 0 }
  }
}

/// Samples taken in rounds spread over a run, and the noise a re-run of the suite should expect:
/// the jitter within a round and the drift between rounds, whichever is larger.
public struct RoundStatistics: Hashable, Sendable {
  /// Every sample together: median, min, max and the overall spread.
  public let all: SampleStatistics
  /// The round (1-based) each sample of `all.samples` was taken in.
  public let rounds: [Int]
  /// The median of each round that took samples, in round order.
  public let roundMedians: [Double]
  /// The largest (max − min) / median within one round (0 when no round took two samples).
  public let withinRoundSpread: Double
  /// (largest − smallest round median) / median of every sample; nil when one round took all the samples.
  public let betweenRoundDrift: Double?

  /// nil without samples, or when `rounds` does not give one round per sample.
  public init?(_ samples: [Double], rounds: [Int]) {
    guard samples.count == rounds.count, let all = SampleStatistics(samples) else { return nil }
    self.all = all
    self.rounds = rounds
    let byRound = Dictionary(grouping: zip(rounds, samples), by: \.0).mapValues { $0.map(\.1) }
    let perRound = byRound.keys.sorted().compactMap { byRound[$0].flatMap(SampleStatistics.init) }
    roundMedians = perRound.map(\.median)
    withinRoundSpread = perRound.filter { $0.samples.count > 1 }.map(\.spread).max() ?? 0
    if perRound.count > 1, let low = roundMedians.min(), let high = roundMedians.max(), all.median > 0 {
      betweenRoundDrift = (high - low) / all.median
    } else {
      betweenRoundDrift = nil
    }
  }

  /// The noise of the figure: how far a re-run's median may land from this one's.
  public var noise: Double { Swift.max(withinRoundSpread, betweenRoundDrift ?? 0) }

  /// False when the noise is above `threshold` (a fraction of the median).
  public func isTrustworthy(threshold: Double = SampleStatistics.defaultSpreadThreshold) -> Bool { noise <= threshold }

  /// Every sample scaled by `factor` (seconds → milliseconds), the summary recomputed.
  public func scaled(by factor: Double) -> RoundStatistics {
    RoundStatistics(all.samples.map { $0 * factor }, rounds: rounds) ?? self
  }
}
