import Codegen
import Foundation
import Testing

/// Compiles the C harness `kernels/kernel_tests.c` for each template profile this host can run and
/// expects every kernel family to match its Double reference (the harness's own checks, 1e-4).
@Suite struct KernelTemplateTests {
  @Test(arguments: HostProfiles.runnable)
  func kernelTemplatesMatchDoubleReferenceOnAwkwardShapes(profile: TemplateProfile) throws {
    let compiler = try #require(CCompiler.find(), "no C compiler on PATH (set CC)")
    let templates = try #require(KernelTemplates.directory, "Codegen's Templates resource is missing")
    let binary = FileManager.default.temporaryDirectory
      .appendingPathComponent("kiln-kernel-tests-\(profile.name)-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: binary) }

    let compile = try runProcess(compiler.path, profile.flags + [
      "-std=c11", "-I", templates.path, "-I", templates.appendingPathComponent(profile.name).path,
      harnessDirectory.appendingPathComponent("kernel_tests.c").path, "-o", binary, "-lm",
    ])
    try #require(compile.status == 0, "compiling the harness for \(profile.name) failed:\n\(compile.output)")

    let run = try runProcess(binary, [])
    let failures = run.output.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
    #expect(run.status == 0, "\(profile.name): \(failures.joined(separator: "\n"))\n\(run.output.suffix(400))")
    #expect(run.output.contains(" checks, 0 failed"), "\(profile.name) harness did not report its summary")
  }

  @Test func neonTemplatesCompileForAArch64() throws {
    guard let clang = CCompiler.find(environment: ["CC": "clang", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? ""]),
      clang.path.hasSuffix("clang")
    else {
      print("NEON templates not compiled: no clang on PATH to cross-compile for aarch64")
      return
    }
    let templates = try #require(KernelTemplates.directory, "Codegen's Templates resource is missing")
    let object = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-neon-\(UUID().uuidString).o").path
    defer { try? FileManager.default.removeItem(atPath: object) }
    let probe = try runProcess(clang.path, ["--target=aarch64-linux-gnu", "-ffreestanding", "-x", "c", "-c", "/dev/null", "-o", object])
    guard probe.status == 0 else {
      print("NEON templates not compiled: \(clang.path) has no aarch64 target (\(probe.output.prefix(200)))")
      return
    }
    let compile = try runProcess(clang.path, [
      "--target=aarch64-linux-gnu", "-ffreestanding", "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror",
      "-I", templates.path, "-I", templates.appendingPathComponent("aarch64-neon").path,
      "-c", harnessDirectory.appendingPathComponent("instantiate_all.c").path, "-o", object,
    ])
    #expect(compile.status == 0, "aarch64-neon templates do not compile:\n\(compile.output)")
  }
}

/// A template folder and the flags its code needs.
struct TemplateProfile: Sendable, CustomTestStringConvertible {
  let name: String
  let flags: [String]
  /// /proc/cpuinfo flags the host needs to run this profile's code.
  let requiredCPUFlags: [String]
  var testDescription: String { name }
}

enum HostProfiles {
  static let all: [TemplateProfile] = [
    TemplateProfile(name: "generic", flags: ["-O3"], requiredCPUFlags: []),
    TemplateProfile(name: "x86-64-avx2", flags: ["-O3", "-mavx2", "-mfma"], requiredCPUFlags: ["avx2", "fma"]),
    TemplateProfile(
      name: "x86-64-avx512", flags: ["-O3", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma"],
      requiredCPUFlags: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"]),
  ]

  /// The profiles whose instructions this host executes, read from /proc/cpuinfo (generic only
  /// when the file cannot be read, and never x86 profiles on other architectures).
  static let runnable: [TemplateProfile] = {
    let cpuFlags = hostCPUFlags()
    #if arch(x86_64)
      return all.filter { $0.requiredCPUFlags.allSatisfy(cpuFlags.contains) }
    #else
      return all.filter { $0.requiredCPUFlags.isEmpty }
    #endif
  }()

  static func hostCPUFlags() -> Set<String> {
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
    guard let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
      let colon = line.firstIndex(of: ":")
    else { return [] }
    return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
  }
}

private let harnessDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("kernels")

/// Runs a program to completion; its exit status and its stdout and stderr together.
private func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
