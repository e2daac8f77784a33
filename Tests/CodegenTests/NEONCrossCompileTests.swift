import Foundation
import Testing
import Tracer
@testable import Codegen
import Models

/// The aarch64-neon module of a small DiT compiles for aarch64 with clang (compile only: this
/// host cannot run it). Needs clang with the AArch64 target and Debian's libc6-dev-arm64-cross
/// headers, which scripts/install-deps installs.
@Suite struct NEONCrossCompileTests {
  static let sysroot = "/usr/aarch64-linux-gnu"

  static func clang() -> String? {
    let candidates = ["/opt/swift/usr/bin/clang"] + (ProcessInfo.processInfo.environment["PATH"] ?? "")
      .split(separator: ":").map { "\($0)/clang" }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  @Test func ditModuleCompilesForAArch64() throws {
    let clang = try #require(Self.clang(), "no clang found; install clang or the Swift toolchain")
    #expect(FileManager.default.fileExists(atPath: Self.sysroot + "/include/stdlib.h"),
            "aarch64 C headers missing at \(Self.sysroot); run scripts/install-deps (libc6-dev-arm64-cross)")
    // The host cannot run NEON: lower with the profile's data directly, without the host check.
    let profile = try #require(try HardwareProfile.builtins().first { $0.name == "aarch64-neon" })
    let graph = try ModelRegistry.family(named: "dit")!.trace(config: "tiny")
    let program = try Lowering.lower(graph: graph, profile: profile, mode: .compiled, name: "dit-tiny")
    #expect(program.patterns["attention"] == 2)

    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-neon-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let source = folder.appendingPathComponent("module.c")
    try Data(program.source.utf8).write(to: source)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: clang)
    process.arguments = ["--target=aarch64-linux-gnu", "-isystem", Self.sysroot + "/include", "-O2", "-fPIC",
                         "-Wall", "-Wno-unused-function"] + profile.cFlags
      + ["-c", source.path, "-o", folder.appendingPathComponent("module.o").path]
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let diagnostics = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "clang --target=aarch64-linux-gnu failed:\n\(diagnostics.prefix(2000))")
    #expect(!diagnostics.contains("warning"), "\(diagnostics.prefix(2000))")
  }
}
