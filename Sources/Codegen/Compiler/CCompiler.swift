import Foundation
import Synchronization

/// The system C compiler Kiln hands its generated kernels to: `$CC`, else `cc`, `clang`, `gcc`
/// on `PATH`.
public struct CCompiler: Hashable, Sendable {
  public let path: String

  public init(path: String) { self.path = path }

  /// The first compiler found, or nil when there is none.
  public static func find(environment: [String: String] = ProcessInfo.processInfo.environment) -> CCompiler? {
    let candidates = [environment["CC"]].compactMap { $0 } + ["cc", "clang", "gcc"]
    let searchPath = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
    for candidate in candidates {
      if candidate.contains("/") {
        if FileManager.default.isExecutableFile(atPath: candidate) { return CCompiler(path: candidate) }
        continue
      }
      for directory in searchPath {
        let path = directory + "/" + candidate
        if FileManager.default.isExecutableFile(atPath: path) { return CCompiler(path: path) }
      }
    }
    return nil
  }

  /// Like `find`, but a missing compiler is an error that says what was searched.
  public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CCompiler {
    if let compiler = find(environment: environment) { return compiler }
    let tried = [environment["CC"].map { "CC=\($0)" }].compactMap { $0 } + ["cc", "clang", "gcc"]
    throw CompilerError.noCompiler(tried: tried, path: environment["PATH"] ?? "/usr/bin:/bin")
  }
}

// MARK: - Identity

/// Which compiler built a module: its path and the first line of `--version`. Part of every
/// cache key, so upgrading the compiler rebuilds the kernels.
public struct CompilerIdentity: Codable, Hashable, Sendable {
  public var path: String
  public var version: String
}

extension CCompiler {
  /// The compiler's identity; `--version` runs once per compiler per process.
  public func identity() throws -> CompilerIdentity {
    if let known = IdentityMemo.shared.lookup(path) { return known }
    let run = try ChildProcess.run(path, ["--version"])
    guard run.status == 0, let firstLine = run.standardOutput.split(separator: "\n").first else {
      throw CompilerError.unusableCompiler(path, run.standardError.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    let identity = CompilerIdentity(path: path, version: String(firstLine))
    IdentityMemo.shared.store(identity)
    return identity
  }
}

/// A per-process memo of compiler identities (a fact about the compiler binary, never
/// invalidated while Kiln runs), guarded by a lock.
private final class IdentityMemo: @unchecked Sendable {
  static let shared = IdentityMemo()
  private let lock = NSLock()
  private var identities: [String: CompilerIdentity] = [:]

  func lookup(_ path: String) -> CompilerIdentity? {
    lock.lock()
    defer { lock.unlock() }
    return identities[path]
  }

  func store(_ identity: CompilerIdentity) {
    lock.lock()
    defer { lock.unlock() }
    identities[identity.path] = identity
  }
}

// MARK: - Compiling

extension CCompiler {
  /// What a compile produces.
  public enum OutputKind: String, Codable, Hashable, Sendable {
    /// A module Runtime loads: `-shared -fPIC`.
    case sharedObject
    /// A program run as a child process (the ceiling microbenchmark): linked with `-pthread`.
    case executable

    var flags: [String] {
      switch self {
      case .sharedObject: return ["-shared", "-fPIC"]
      case .executable: return ["-pthread"]
      }
    }
  }

  /// The optimization level. Kiln's kernels build at -O3 (full vectorization and unrolling);
  /// the naive baseline builds at -O2, as DESIGN.md asks.
  public enum Optimization: String, Codable, Hashable, Sendable {
    case o2 = "-O2"
    case o3 = "-O3"
  }

  /// The full argument list for one compile, in order: optimization, the profile's ISA flags,
  /// the caller's extra flags, the output kind, then files. `-fno-math-errno` lets the compiler
  /// vectorize `sqrtf` (nothing reads errno); fast-math is not used, since it would change NaN
  /// and reduction semantics the reference tests rely on.
  public static func arguments(
    source: String, output: String, kind: OutputKind, optimization: Optimization, profileFlags: [String], extraFlags: [String]
  ) -> [String] {
    [optimization.rawValue, "-fno-math-errno"] + profileFlags + extraFlags + kind.flags + ["-o", output, source, "-lm"]
  }

  /// The commands that build a shared object from `source` as `parts` translation units
  /// (`-DKILN_PART=p`, see kiln_abi.h) compiled side by side, then linked: one compile per part
  /// writing `objects[p]`, and the link.
  public static func splitArguments(
    source: String, objects: [String], output: String, optimization: Optimization, profileFlags: [String], extraFlags: [String]
  ) -> (compiles: [[String]], link: [String]) {
    let compiles = objects.enumerated().map { part, object in
      [optimization.rawValue, "-fno-math-errno"] + profileFlags + extraFlags + ["-fPIC", "-DKILN_PART=\(part)", "-c", "-o", object, source]
    }
    return (compiles, OutputKind.sharedObject.flags + ["-o", output] + objects + ["-lm"])
  }

  /// Runs the compiles of `splitArguments` concurrently, then the link; throws `rejected` with the
  /// first error lines of the first part that failed.
  public func compileSplit(source: String, compiles: [[String]], link: [String]) throws {
    let failures = Mutex([Int: String]())
    DispatchQueue.concurrentPerform(iterations: compiles.count) { part in
      do {
        let run = try ChildProcess.run(path, compiles[part])
        if run.status != 0 { failures.withLock { $0[part] = run.standardError } }
      } catch {
        failures.withLock { $0[part] = "\(error)" }
      }
    }
    if let (_, standardError) = failures.withLock({ $0.min(by: { $0.key < $1.key }) }) {
      throw CompilerError.rejected(file: source, compiler: path, firstErrors: CompilerError.firstErrorLines(standardError))
    }
    let run = try ChildProcess.run(path, link)
    guard run.status == 0 else {
      throw CompilerError.rejected(file: source, compiler: path, firstErrors: CompilerError.firstErrorLines(run.standardError))
    }
  }

  /// Compiles `source` into `output`; throws `rejected` with the first error lines when the
  /// compiler refuses the code.
  public func compile(source: String, output: String, arguments: [String]) throws {
    let run = try ChildProcess.run(path, arguments)
    guard run.status == 0 else {
      throw CompilerError.rejected(file: source, compiler: path, firstErrors: CompilerError.firstErrorLines(run.standardError))
    }
  }
}

// MARK: - Child processes

/// Runs a program to completion and captures both of its streams.
enum ChildProcess {
  struct Result {
    var status: Int32
    var standardOutput: String
    var standardError: String
  }

  static func run(_ executable: String, _ arguments: [String]) throws -> Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    do { try process.run() } catch {
      throw CompilerError.cannotRun(executable, error.localizedDescription)
    }
    // Drain stderr on another thread so neither pipe can fill and block the child.
    let errorData = ErrorDrain(error.fileHandleForReading)
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus,
      standardOutput: String(decoding: outputData, as: UTF8.self),
      standardError: String(decoding: errorData.wait(), as: UTF8.self)
    )
  }
}

/// Reads a pipe to its end on a background thread.
private final class ErrorDrain: @unchecked Sendable {
  private let done = DispatchSemaphore(value: 0)
  private var data = Data()

  init(_ handle: FileHandle) {
    Thread.detachNewThread { [self] in
      data = handle.readDataToEndOfFile()
      done.signal()
    }
  }

  func wait() -> Data {
    done.wait()
    return data
  }
}

