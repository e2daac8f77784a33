import Foundation
import Testing

@testable import Bench

/// Samples taken in rounds spread over the run, and the noise they report.
@Suite struct RoundsTests {
  @Test func roundsShareTheRepetitionsEarlierRoundsTakingTheRemainder() {
    func shares(_ repetitions: Int, _ rounds: Int) -> [Int] {
      (1...rounds).map { RoundSchedule.share(of: repetitions, rounds: rounds, round: $0) }
    }
    #expect(shares(5, 3) == [2, 2, 1])
    #expect(shares(6, 3) == [2, 2, 2])
    #expect(shares(3, 3) == [1, 1, 1])
    #expect(shares(1, 3) == [1, 0, 0])
    #expect(shares(20, 1) == [20])
    for repetitions in 1...13 {
      for rounds in 1...5 { #expect(shares(repetitions, rounds).reduce(0, +) == repetitions) }
    }
    #expect(RoundSchedule.roundsVisited(repetitions: 2, rounds: 3) == [1, 2])
    #expect(RoundSchedule.share(of: 4, rounds: 3, round: 4) == 0)
  }

  @Test func driftBetweenRoundsIsTheNoiseWhenRoundsDisagree() throws {
    // Each round is tight (±1 %), but the second runs 20 % slower: a re-run can land anywhere in there.
    let statistics = try #require(RoundStatistics([100, 101, 99, 120, 121, 119, 100, 99, 101], rounds: [1, 1, 1, 2, 2, 2, 3, 3, 3]))
    #expect(statistics.all.median == 101)
    #expect(statistics.roundMedians == [100, 120, 100])
    #expect(abs(statistics.withinRoundSpread - 2.0 / 100) < 1e-12)
    #expect(abs(try #require(statistics.betweenRoundDrift) - 20.0 / 101) < 1e-12)
    #expect(statistics.noise == statistics.betweenRoundDrift)
    #expect(!statistics.isTrustworthy(threshold: 0.10))
  }

  @Test func jitterWithinARoundIsTheNoiseWhenRoundsAgree() throws {
    let statistics = try #require(RoundStatistics([90, 100, 110, 100, 101], rounds: [1, 1, 1, 2, 2]))
    #expect(statistics.roundMedians == [100, 100.5])
    // The worst round: (110 − 90) / 100.
    #expect(abs(statistics.withinRoundSpread - 0.2) < 1e-12)
    #expect(abs(try #require(statistics.betweenRoundDrift) - 0.5 / 100) < 1e-12)
    #expect(statistics.noise == statistics.withinRoundSpread)
    #expect(!statistics.isTrustworthy(threshold: 0.10) && statistics.isTrustworthy(threshold: 0.25))
  }

  @Test func oneRoundHasNoDriftAndOneSampleARoundNoJitter() throws {
    let single = try #require(RoundStatistics([10, 12, 11], rounds: [1, 1, 1]))
    #expect(single.betweenRoundDrift == nil)
    #expect(abs(single.noise - single.all.spread) < 1e-12)
    let spreadOut = try #require(RoundStatistics([10, 11, 12], rounds: [1, 2, 3]))
    #expect(spreadOut.withinRoundSpread == 0)
    #expect(abs(spreadOut.noise - 2.0 / 11) < 1e-12)
    #expect(RoundStatistics([1, 2], rounds: [1]) == nil)
    #expect(RoundStatistics([], rounds: []) == nil)
    let ms = try #require(RoundStatistics([0.001, 0.003], rounds: [1, 2])).scaled(by: 1e3)
    #expect(ms.rounds == [1, 2] && abs(ms.all.median - 2) < 1e-12)
  }

  @Test func roundsVisitEveryCaseWithItsShareAndThePlanCountsWarmUpsPerVisit() throws {
    let harness = BenchHarness(environment: try BenchFixtures.environment(generation: nil))
    let suite = try Suite(json: Data(#"""
      { "kiln-suite": 1, "name": "p", "rounds": 3, "runs": [
        { "model": "dit-tiny", "threads": ["all"], "repetitions": { "default": 5, "naive": 1 }, "warmups": { "default": 1, "naive": 0 } },
        { "model": "llama-tiny", "threads": ["all"], "executors": ["eager-blas"], "repetitions": 3, "warmups": 2 } ] }
      """#.utf8), file: "p.json")
    let (plans, _) = try harness.plan(suite)
    let visits = BenchHarness.visits(plans, rounds: suite.rounds)
    // Round by round, every model of the suite in each; naive's single run only in the first round.
    #expect(visits.map(\.round) == [1, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    #expect(visits.filter { $0.round == 2 }.map(\.plan) == [0, 0, 1])
    for (p, plan) in plans.enumerated() {
      for (c, benchCase) in plan.cases.enumerated() {
        #expect(visits.filter { $0.plan == p && $0.benchCase == c }.reduce(0) { $0 + $1.repetitions } == benchCase.repetitions)
      }
    }
    let compiled = try #require(plans[0].cases.firstIndex { $0.executor == .compiled })
    #expect(visits.filter { $0.plan == 0 && $0.benchCase == compiled }.map(\.repetitions) == [2, 2, 1])

    let planned = try harness.plannedCases(suite).cases
    let headline = try #require(planned.first { $0.label == "dit-tiny" && $0.executor == "compiled" })
    // A warm-up in each of 3 visits, 5 step runs (2 + 2 + 1) and at least 3 kernel-timing runs per visit.
    #expect(headline.rounds == 3 && headline.runs == 3 + 5 + 3 * 3)
    let naive = try #require(planned.first { $0.executor == "naive" })
    #expect(naive.rounds == 1 && naive.runs == 1)
    let eager = try #require(planned.first { $0.label == "llama-tiny" })
    #expect(eager.rounds == 3 && eager.runs == 3 * 2 + 3)
  }

  @Test func everySampleCarriesItsRoundAndCompiledCasesTheirMemory() throws {
    let report = try BenchFixtures.tinyReport.get()
    #expect(report.suite.rounds == 2)
    for result in report.models.flatMap(\.cases) {
      // Three repetitions over two rounds: two in the first, one in the second.
      #expect(result.sampleRounds == [1, 1, 2])
      #expect(result.roundMediansMs?.count == 2 && result.betweenRoundDrift != nil)
      let noise = try #require(result.noise)
      // Its own rounds, raised to its class's floor; trustworthy judges its own rounds alone.
      let own = max(result.withinRoundSpread ?? .nan, result.betweenRoundDrift ?? .nan)
      #expect(noise == max(own, result.noiseFloor ?? 0))
      #expect(result.trustworthy == (own <= report.spreadThreshold))
      if result.executor == "compiled", let memory = result.memory {
        #expect(memory.packedWeightBytes > 0 && memory.arenaBytes > 0 && memory.peakResidentBytes > 0)
        #expect(memory.budgetBytes == MemoryFigures.budget(packedWeightBytes: memory.packedWeightBytes, arenaBytes: memory.arenaBytes))
      } else {
        #expect(result.memory == nil || result.executor == "compiled")
      }
    }
    #if os(Linux)
      #expect(report.models.flatMap(\.cases).filter { $0.executor == "compiled" }.allSatisfy { $0.memory != nil })
    #endif
    #expect(ReportWriter.markdown(report).contains("## " + ReportWriter.memoryTitle))
  }

  @Test func budgetIsAQuarterAboveWeightsAndArenaPlus64MiB() {
    let within = MemoryFigures(packedWeightBytes: 400 << 20, arenaBytes: 100 << 20, peakResidentBytes: 600 << 20)
    #expect(within.budgetBytes == (625 + 64) << 20)
    #expect(within.withinBudget)
    let over = MemoryFigures(packedWeightBytes: 400 << 20, arenaBytes: 100 << 20, peakResidentBytes: 1000 << 20)
    #expect(!over.withinBudget)
    #expect(MemoryFigures.worse(within, over) == over && MemoryFigures.worse(nil, within) == within)
  }
}
