import Foundation
import KilnTestSupport
import Testing
import Tracer

@testable import Bench

/// The noise floor pooled over a class of figures, and how a report applies it.
@Suite struct NoiseFloorTests {
  /// `figures` figures of `rounds` round medians each, every one around its own level, the logs
  /// scattered N(0, σ²): what a class of figures on one machine looks like.
  static func roundMedians(figures: Int, rounds: Int, sigma: Double, rng: inout SplitMix64) -> [[Double]] {
    (0..<figures).map { _ in
      let level = Double.random(in: 1...500, using: &rng)
      return (0..<rounds).map { _ in
        // Box–Muller from two uniforms in (0, 1].
        let u1 = Double.random(in: Double.ulpOfOne...1, using: &rng), u2 = Double.random(in: 0..<1, using: &rng)
        return level * exp(sigma * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
      }
    }
  }

  @Test func floorMatchesTheGapBetweenTwoMediansOfNormalRounds() throws {
    var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
    let sigma = 0.05
    let medians = Self.roundMedians(figures: 300, rounds: 3, sigma: sigma, rng: &rng)
    let floor = try #require(NoiseFloor(figureClass: "2 threads", threads: 2, roundMedians: medians, maxRounds: 6))
    // The median of 3 normal draws has variance ≈ 0.4487 σ²; the gap between two such medians is
    // normal with σ·√(2 · 0.4487), and 99 % of it lies within 2.576 of those.
    let expected = exp(2.576 * sigma * (2 * 0.4487).squareRoot()) - 1
    #expect(abs(floor.floor(rounds: 3) / expected - 1) < 0.15, "seed \(rng.seed): \(floor.floor(rounds: 3)) vs \(expected)")
    // One visit against one: 2.576 · σ · √2.
    let single = exp(2.576 * sigma * 2.0.squareRoot()) - 1
    #expect(abs(floor.floor(rounds: 1) / single - 1) < 0.15, "seed \(rng.seed)")
    // More rounds, a narrower floor; past the last column the last one holds.
    #expect(zip(floor.byRounds, floor.byRounds.dropFirst()).allSatisfy { $0 >= $1 * 0.97 } && floor.byRounds[0] > floor.byRounds[5])
    #expect(floor.floor(rounds: 9) == floor.byRounds[5] && floor.floor(rounds: 0) == floor.byRounds[0])
    #expect(floor.figures == 300 && floor.residuals == 900)
  }

  @Test func floorFollowsFromTheSamplesAloneAndNeedsEnoughOfThem() throws {
    var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
    let medians = Self.roundMedians(figures: 7, rounds: 3, sigma: 0.1, rng: &rng)
    let once = NoiseFloor(figureClass: "1 thread", threads: 1, roundMedians: medians, maxRounds: 3)
    #expect(once != nil && once == NoiseFloor(figureClass: "1 thread", threads: 1, roundMedians: medians, maxRounds: 3))
    // Single-round figures add nothing; two figures of three rounds are too few to speak for the machine.
    #expect(NoiseFloor(figureClass: "1 thread", threads: 1, roundMedians: [[5], [7], [9]] + medians.prefix(2), maxRounds: 3) == nil)
    let steady = try #require(NoiseFloor(figureClass: "1 thread", threads: 1, roundMedians: Array(repeating: [4, 4, 4], count: 5), maxRounds: 3))
    #expect(steady.byRounds == [0, 0, 0])
  }

  /// A report of `figures` cases at one thread, each in three rounds, plus a naive case of one sample.
  static func report(rng: inout SplitMix64) throws -> BenchReport {
    var report = try BenchFixtures.tinyReport.get()
    report.suite.rounds = 3
    var model = try #require(report.models.first)
    let template = try #require(model.cases.first { $0.executor == "compiled" })
    model.cases = Self.roundMedians(figures: 12, rounds: 3, sigma: 0.08, rng: &rng).enumerated().map { index, medians in
      var result = template
      result.threads = 1
      result.profile = "p\(index)"
      result.samplesMs = medians
      result.sampleRounds = [1, 2, 3]
      result.roundMediansMs = medians
      result.msPerStep = medians.sorted()[1]
      result.noise = 0.01
      result.noiseFloor = nil
      return result
    }
    var naive = template
    naive.executor = "naive"
    naive.threads = 1
    naive.samplesMs = [900]
    naive.sampleRounds = [1]
    naive.roundMediansMs = [900]
    naive.msPerStep = 900
    naive.noise = 0
    naive.trustworthy = true
    naive.noiseFloor = nil
    model.cases.append(naive)
    model.executors = ["naive": naive]
    model.peers = []
    report.models = [model]
    report.kernels = []
    report.generation.rows = []
    report.compile = nil
    report.kernelBenchmarks = nil
    report.notes = []
    report.noiseFloors = nil
    return report
  }

  @Test func everyFigureGetsItsClassFloorAndAOneSampleFigureTheOneRoundFloor() throws {
    var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
    var report = try Self.report(rng: &rng)
    report.models[0].cases[0].noise = 0.9
    report.applyNoiseFloors()
    let floor = try #require(report.noiseFloors?.first)
    #expect(report.noiseFloors?.count == 1 && floor.figureClass == "1 thread" && floor.figures == 12, "seed \(rng.seed)")
    let cases = report.models[0].cases
    // Own noise above the floor stands; below it, the floor for three rounds; the naive figure, one round's.
    #expect(cases[0].noise == 0.9 && cases[0].noiseFloor == floor.floor(rounds: 3))
    #expect(cases[1].noise == floor.floor(rounds: 3) && floor.floor(rounds: 3) > 0.01)
    let naive = try #require(cases.last)
    #expect(naive.noise == floor.floor(rounds: 1) && naive.noiseFloor == floor.floor(rounds: 1))
    #expect(report.models[0].executors["naive"] == naive)
    // The floor raises the noise, not the verdict on the figure's own samples.
    #expect(naive.trustworthy)

    let markdown = ReportWriter.markdown(report)
    #expect(markdown.contains("## Noise floors") && markdown.contains(ReportWriter.floorMark))
  }

  @Test func aClassWithTooFewRoundsGetsANoteAndKeepsItsOwnNoise() throws {
    var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
    var report = try Self.report(rng: &rng)
    report.models[0].cases = Array(report.models[0].cases.suffix(2))
    report.applyNoiseFloors()
    #expect(report.noiseFloors == nil)
    #expect(report.models[0].cases.last?.noise == 0 && report.models[0].cases.last?.noiseFloor == nil)
    #expect(report.notes.contains { $0.hasPrefix("No noise floor for 1 thread") })
  }

  @Test func tinySuiteReportHasAFloorOrANoteForEveryTeamSize() throws {
    let report = try BenchFixtures.tinyReport.get()
    let floors = report.noiseFloors ?? []
    #expect(floors.allSatisfy { $0.byRounds.count == 2 && $0.confidence == NoiseFloor.defaultConfidence })
    for threads in Set(report.models.flatMap(\.cases).map(\.threads)) {
      let name = BenchReport.teamName(threads)
      #expect(floors.contains { $0.figureClass == name } || report.notes.contains { $0.hasPrefix("No noise floor for \(name):") }, "\(name)")
    }
    for result in report.models.flatMap(\.cases) {
      #expect(try #require(result.noise) >= (result.noiseFloor ?? 0))
    }
  }
}
