import Codegen
import Foundation
import Models
import Runtime
import Tracer

/// What one compile entry gathered over its rounds.
struct CompileLedger {
  var cold: [Double] = []
  var warm: [Double] = []
  var rounds: [Int] = []
  var kernels = 0
  var translationUnits = 1
}

extension BenchHarness {
  /// This round's share of a compile entry's samples. Each sample compiles into a kernel cache of
  /// its own, created empty and removed after, so the cold figure never meets a module a model
  /// case (or an earlier round) left in the user's cache; the warm figure is the same compile again.
  func measureCompile(_ run: CompileRun, round: Int, rounds: Int, ledger: inout CompileLedger) throws {
    let share = RoundSchedule.share(of: run.repetitions, rounds: rounds, round: round)
    guard share > 0 else { return }
    progress(.note("compile: \(run.label), round \(round)/\(rounds), \(share) cold + warm"))
    let compiler = try environment.cache?.compiler ?? CCompiler.locate()
    for _ in 0..<share {
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-compile-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(at: directory) }
      let cache = ModuleCache(directory: directory, compiler: compiler)
      let cold = try timedCompile(run, cache: cache)
      let warm = try timedCompile(run, cache: cache)
      ledger.cold.append(cold.seconds)
      ledger.warm.append(warm.seconds)
      ledger.rounds.append(round)
      ledger.kernels = cold.program.kernels.count
      ledger.translationUnits = cold.program.translationUnits
    }
  }

  /// Trace, graph passes, lowering and the module through `cache`: what `kiln compile` times.
  func timedCompile(_ run: CompileRun, cache: ModuleCache) throws -> (seconds: Double, program: Program) {
    let started = DispatchTime.now().uptimeNanoseconds
    let (family, config) = try ModelRegistry.resolve(run.model, config: run.config)
    let graph = try family.trace(config: config, overrides: run.overrides).optimized()
    let profile = try HardwareProfile.named(run.profile, host: environment.host, store: environment.profileStore)
    let program = try Lowering.lower(graph: graph, profile: profile, mode: .compiled, name: ModuleName.sanitized(run.label))
    _ = try LoadedModule.compile(program, cache: cache)
    return (Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9, program)
  }

  static func compileRow(_ run: CompileRun, ledger: CompileLedger, threshold: Double) -> CompileRow? {
    guard let cold = TimedFigure(ledger.cold, rounds: ledger.rounds, threshold: threshold),
          let warm = TimedFigure(ledger.warm, rounds: ledger.rounds, threshold: threshold) else { return nil }
    return CompileRow(
      name: run.label, model: run.model, profile: run.profile, kernels: ledger.kernels, translationUnits: ledger.translationUnits,
      coldSeconds: cold, warmSeconds: warm, coldTargetSeconds: run.coldTargetSeconds, warmTargetSeconds: run.warmTargetSeconds,
      meetsColdTarget: run.coldTargetSeconds.map { cold.median <= $0 }, meetsWarmTarget: run.warmTargetSeconds.map { warm.median <= $0 })
  }
}
