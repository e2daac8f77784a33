import Codegen
import Foundation
import Testing

@testable import Bench

@Suite struct HarnessPlanTests {
  func suite(_ text: String) throws -> Suite { try Suite(json: Data(text.utf8), file: "plan.json") }

  @Test func everyExecutorProfileAndTeamIsACaseAndEagerBLASHasNoProfile() throws {
    let environment = try BenchFixtures.environment(generation: nil)
    let planned = try BenchHarness(environment: environment).plannedCases(try suite("""
      { "kiln-suite": 1, "name": "p", "runs": [ { "model": "dit-tiny", "profiles": ["native", "generic"], "threads": [1, "all"],
        "repetitions": { "default": 4, "naive": 1 }, "warmups": 1 } ] }
      """))
    let teams = Set([1, environment.topology.cpuCount]).count
    #expect(planned.cases.filter { $0.executor == "compiled" }.count == 2 * teams)
    #expect(planned.cases.filter { $0.executor == "naive" }.count == 2 * teams)
    #expect(planned.cases.filter { $0.executor == "eager-blas" }.allSatisfy { $0.profile == nil })
    #expect(planned.cases.filter { $0.executor == "eager-blas" }.count == teams)
    // The headline compiled case (first profile, largest team) repeats its runs with kernel timing on.
    let headline = try #require(planned.cases.first { $0.executor == "compiled" && $0.profile == "native" && $0.threads == environment.topology.cpuCount })
    #expect(headline.runs == 1 + 2 * 4)
    #expect(planned.cases.first { $0.executor == "naive" }?.runs == 2)
    #expect(planned.cases.allSatisfy { $0.estimatedSeconds > 0 })
  }

  @Test func aProfileTheHostCannotRunIsSkippedWithANote() throws {
    let environment = try BenchFixtures.environment(generation: nil)
    let foreign = environment.host.isa == .aarch64 ? "x86-64-avx2" : "aarch64-neon"
    let planned = try BenchHarness(environment: environment).plannedCases(try suite("""
      { "kiln-suite": 1, "name": "p", "runs": [ { "model": "dit-tiny", "profiles": ["native", "\(foreign)"], "executors": ["compiled"] } ] }
      """))
    #expect(planned.cases.allSatisfy { $0.profile == "native" })
    #expect(planned.notes.contains { $0.contains("profile \(foreign) skipped, this host lacks") })
  }

  @Test func aBadOverrideFailsBeforeAnythingRunsNamingTheEntry() throws {
    let environment = try BenchFixtures.environment(generation: nil)
    do {
      _ = try BenchHarness(environment: environment).plannedCases(try suite("""
        { "kiln-suite": 1, "name": "p", "runs": [ { "model": "dit-tiny" }, { "model": "dit-tiny", "label": "bad", "set": { "hidden": "abc" } } ] }
        """))
      Issue.record("a non-numeric hidden size was accepted")
    } catch {
      #expect("\(error)".hasPrefix("suite plan.json: runs[1]: bad: "), "\(error)")
    }
  }
}
