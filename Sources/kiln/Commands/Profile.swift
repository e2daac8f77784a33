import ArgumentParser
import Codegen
import Foundation

/// `kiln profile [NAME] [--measure] [--json]`: shows a hardware profile, optionally measuring
/// its ceilings on this machine first.
struct Profile: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show a hardware profile (features, micro-kernel, blocking, caches, flags, measured ceilings).",
    discussion: "NAME is 'native' (the host, detected) or a built-in profile. --measure runs the FMA and bandwidth "
      + "microbenchmarks (about two seconds) and stores the ceilings under $KILN_CACHE_DIR/profiles/."
  )

  @Argument(help: "The profile: native or a built-in name.")
  var name: String = HardwareProfile.nativeName

  @Flag(help: "Measure peak GFLOP/s (one core, all cores) and memory bandwidth, and store them with the profile.")
  var measure = false

  @Flag(help: "Print the profile as JSON.")
  var json = false

  func run() throws {
    let host = try HostDetection.current()
    var profile = try HardwareProfile.named(name, host: host)
    if measure {
      profile = try profile.measuringCeilings(on: host, cache: try ModuleCache(), store: ProfileStore())
    }
    if json {
      print(String(decoding: try profile.jsonData(), as: UTF8.self))
    } else {
      print(ProfileDescription.text(of: profile, host: host))
    }
  }
}
