import Foundation

/// The readable form of a profile that `kiln profile` prints.
public enum ProfileDescription {
  public static func text(of profile: HardwareProfile, host: HostInfo? = nil) -> String {
    var lines: [(String, String)] = []
    lines.append(("profile", profile.name + (profile.basedOn.map { " (fitted from \($0))" } ?? "")))
    if let model = profile.cpuModel { lines.append(("cpu", model)) }
    lines.append(("isa", profile.isa.rawValue))
    lines.append(("features", profile.requiredFeatures.isEmpty ? "none required" : profile.requiredFeatures.joined(separator: " ")))
    if !profile.recordedFeatures.isEmpty { lines.append(("optional", profile.recordedFeatures.joined(separator: " "))) }
    if let host {
      let verdict = profile.canRun(on: host).map { "no, lacks " + $0.joined(separator: ", ") } ?? "yes"
      lines.append(("runs here", verdict))
    }
    lines.append(("vector", "\(profile.vectorWidth) f32 lanes, \(profile.vectorRegisters) registers, \(profile.fmaUnitsPerCore) FMA/cycle"))
    lines.append(("cores", String(profile.cores)))
    let caches = profile.caches
    lines.append(("caches", "L1d \(bytes(caches.l1d)), L2 \(bytes(caches.l2)), L3 \(bytes(caches.l3))"))
    lines.append(("micro-kernel", "\(profile.microKernel.mr)×\(profile.microKernel.nr)"))
    lines.append(("blocking", "KC \(profile.blocking.kc), MC \(profile.blocking.mc), NC \(profile.blocking.nc)"))
    lines.append(("cflags", profile.cFlags.isEmpty ? "(none)" : profile.cFlags.joined(separator: " ")))
    lines.append(("templates", "Templates/\(profile.templateFolder)"))
    if let ceilings = profile.ceilings {
      lines.append(("peak", String(format: "%.1f GFLOP/s one core, %.1f GFLOP/s on %d threads", ceilings.peakGFLOPSOneCore, ceilings.peakGFLOPSAllCores, ceilings.threads)))
      lines.append(("bandwidth", String(format: "%.1f GB/s (triad)", ceilings.memoryBandwidthGBps)))
      lines.append(("measured", ceilings.measuredAt))
    } else {
      lines.append(("ceilings", "not measured (run kiln profile \(profile.name) --measure)"))
    }
    let width = lines.map(\.0.count).max() ?? 0
    return lines.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
  }

  static func bytes(_ count: Int) -> String {
    if count == 0 { return "none" }
    if count % (1 << 20) == 0 { return "\(count >> 20) MiB" }
    if count % (1 << 10) == 0 { return "\(count >> 10) KiB" }
    return "\(count) B"
  }
}
