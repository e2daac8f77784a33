import Testing

@testable import Bench

@Suite struct StatisticsTests {
  @Test func medianOfOddAndEvenCounts() throws {
    #expect(try #require(SampleStatistics([3, 1, 2])).median == 2)
    #expect(try #require(SampleStatistics([4, 1, 3, 2])).median == 2.5)
  }

  @Test func spreadIsRangeOverMedianAndKeepsEverySample() throws {
    let statistics = try #require(SampleStatistics([10, 12, 11, 9]))
    #expect(statistics.samples == [10, 12, 11, 9])
    #expect(statistics.min == 9 && statistics.max == 12)
    #expect(abs(statistics.spread - 3 / 10.5) < 1e-12)
    #expect(!statistics.isTrustworthy(threshold: 0.10))
    #expect(statistics.isTrustworthy(threshold: 0.30))
  }

  @Test func noSamplesGiveNoSummary() {
    #expect(SampleStatistics([]) == nil)
  }

  @Test func scalingToMillisecondsScalesEveryFigure() throws {
    let ms = try #require(SampleStatistics([0.001, 0.003])).scaled(by: 1e3)
    #expect(abs(ms.median - 2) < 1e-12 && abs(ms.max - 3) < 1e-12)
  }

  @Test func etaRescalesGuessesByTheFinishedCases() throws {
    var eta = ETA(estimates: [1, 1, 2])
    #expect(eta.remaining == 4)
    eta.finish(seconds: 3)
    #expect(eta.remaining == 9)
  }
}
