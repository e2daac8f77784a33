import Foundation

/// Measures a profile's ceilings on this machine: peak f32 FMA throughput on one core and on
/// all cores, and STREAM-triad memory bandwidth. The microbenchmark is C (`csrc/ceilings.c`),
/// built by the module cache with the profile's own flags into an executable and run as a child
/// process: Codegen never loads code into its own process.
public struct CeilingMeasurement: Sendable {
  /// Seconds each FMA phase (one core, then all cores) runs.
  public var fmaSeconds: Double
  /// Bytes of each of the triad's three arrays; nil picks 4 × L3 (at least 64 MiB), far beyond
  /// the caches so the triad streams from memory.
  public var triadArrayBytes: Int?
  /// Threads for the all-cores phases; nil uses the profile's cores.
  public var threads: Int?

  /// The defaults keep `kiln profile --measure` to about two seconds in all.
  public init(fmaSeconds: Double = 0.5, triadArrayBytes: Int? = nil, threads: Int? = nil) {
    self.fmaSeconds = fmaSeconds
    self.triadArrayBytes = triadArrayBytes
    self.threads = threads
  }

  /// What the microbenchmark prints.
  struct Report: Decodable {
    var gflopsOneCore: Double
    var gflopsAllCores: Double
    var threads: Int
    var bandwidthGBps: Double
  }

  /// Builds and runs the microbenchmark for `profile` and returns its ceilings, dated now.
  public func measure(profile: HardwareProfile, cache: ModuleCache, now: Date = Date()) throws -> HardwareProfile.Ceilings {
    let program = try cache.compileExecutable(
      source: try Self.source(), name: "ceilings-" + profile.name, profile: profile, extraFlags: Self.flags(for: profile))
    let threadCount = max(1, threads ?? profile.cores)
    let arrayBytes = triadArrayBytes ?? max(64 << 20, 4 * profile.caches.l3)
    let arguments = [String(fmaSeconds), String(arrayBytes), String(threadCount)]
    let run = try ChildProcess.run(program.path.path, arguments)
    guard run.status == 0 else {
      throw CompilerError.badOutput(program.path.path, "exit status \(run.status): " + run.standardError.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    let report: Report
    do { report = try JSONDecoder().decode(Report.self, from: Data(run.standardOutput.utf8)) } catch {
      throw CompilerError.badOutput(program.path.path, run.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    let formatter = ISO8601DateFormatter()
    return HardwareProfile.Ceilings(
      peakGFLOPSOneCore: report.gflopsOneCore, peakGFLOPSAllCores: report.gflopsAllCores, threads: report.threads,
      memoryBandwidthGBps: report.bandwidthGBps, measuredAt: formatter.string(from: now))
  }

  /// The profile's vector size and enough independent FMA chains to cover latency × FMA units
  /// (a 4–6 cycle latency is assumed, hence 6 per unit), within the register file less a few for
  /// the multiplier, addend and spills.
  static func flags(for profile: HardwareProfile) -> [String] {
    let chains = max(4, min(profile.vectorRegisters - 4, 6 * profile.fmaUnitsPerCore))
    return ["-DKILN_VECTOR_BYTES=\(profile.vectorWidth * 4)", "-DKILN_CHAINS=\(chains)", "-ffp-contract=fast"]
  }

  static func source() throws -> String {
    guard let url = Bundle.module.url(forResource: "csrc/ceilings", withExtension: "c")
      ?? Bundle.module.url(forResource: "csrc", withExtension: nil)?.appendingPathComponent("ceilings.c")
    else { throw ProfileError.missingResource("Measure/csrc/ceilings.c") }
    do { return try String(contentsOf: url, encoding: .utf8) } catch {
      throw ProfileError.missingResource("Measure/csrc/ceilings.c")
    }
  }
}

extension HardwareProfile {
  /// Measures this profile's ceilings (refusing a profile the host cannot run), stores the
  /// profile with them in `store`, and returns it.
  public func measuringCeilings(
    on host: HostInfo, with measurement: CeilingMeasurement = CeilingMeasurement(), cache: ModuleCache, store: ProfileStore
  ) throws -> HardwareProfile {
    try requireRunnable(on: host)
    var measured = self
    measured.ceilings = try measurement.measure(profile: self, cache: cache)
    try store.save(measured)
    return measured
  }
}
