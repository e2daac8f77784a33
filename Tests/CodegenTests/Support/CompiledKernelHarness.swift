import Codegen
import Foundation
import Glibc
import Tracer

/// One kernel function placed in a test module, with what its test entry passes it.
struct HarnessKernel: Sendable {
  /// The C function (as `LoopEmitter` renders it).
  var function: String
  /// The function's name in `function`.
  var name: String
  /// The C type of each input argument, in order (`.i32` → `const int32_t *`, else `const float *`).
  var inputTypes: [DType]
  var outputCount: Int
}

/// The values of one kernel argument.
enum KernelArgument: Sendable {
  case f32([Float])
  case i32([Int32])
}

/// Compiles kernel functions into one shared object after the profile's template prelude, each
/// behind an exported entry, and runs them thread by thread.
///
/// Entry i is `void kiln_test_entry_<i>(const void *const *inputs, float *const *outputs,
/// int thread_id, int n_threads)`, which calls kernel i with `inputs[0…]`, `outputs[0…]`.
/// Kernels do not synchronize, so calling each thread id in turn is a valid schedule: a run with
/// n threads checks the n-way split of the work without any threads.
struct CompiledKernelHarness: Sendable {
  let path: URL
  let profile: String

  /// The translation unit: the headers `LoopEmitter` needs, the prelude, the kernels, the entries.
  static func source(kernels: [HarnessKernel], prelude: String) -> String {
    var text = LoopEmitter.requiredHeaders.map { "#include \($0)\n" }.joined() + prelude + "\n"
    for kernel in kernels { text += kernel.function + "\n" }
    for (index, kernel) in kernels.enumerated() {
      let inputs = (0..<kernel.inputTypes.count).map { "inputs[\($0)]" }
      let outputs = (0..<kernel.outputCount).map { "outputs[\($0)]" }
      let arguments = (inputs + outputs + ["thread_id", "n_threads"]).joined(separator: ", ")
      text += """
        __attribute__((visibility("default"))) void kiln_test_entry_\(index)(const void *const *inputs, float *const *outputs,
                                                                          int thread_id, int n_threads) {
          \(kernel.name)(\(arguments));
        }

        """
    }
    return text
  }

  /// Compiles `kernels` for `profile` with `ModuleCache` under a fresh temporary `KILN_CACHE_DIR`.
  static func build(kernels: [HarnessKernel], profile: HardwareProfile) throws -> CompiledKernelHarness {
    let prelude = try TemplateLibrary.bundled().prelude(for: profile)
    let cacheRoot = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-loop-tests-\(UUID().uuidString)")
    var environment = ProcessInfo.processInfo.environment
    environment["KILN_CACHE_DIR"] = cacheRoot.path
    let cache = try ModuleCache(environment: environment)
    let module = try cache.compile(
      source: source(kernels: kernels, prelude: prelude), name: "loop-kernels-\(profile.name)", profile: profile,
      extraFlags: ["-Wall", "-Werror", "-Wno-unused-function"])
    return CompiledKernelHarness(path: module.path, profile: profile.name)
  }

  private typealias Entry = @convention(c) (
    UnsafePointer<UnsafeRawPointer?>?, UnsafePointer<UnsafeMutablePointer<Float>?>?, Int32, Int32
  ) -> Void

  /// Runs entry `entry` once per thread id (0 ..< threads) on copies of `inputs`, with outputs of
  /// `outputCounts` floats poisoned with NaN beforehand; returns the outputs.
  func run(entry: Int, inputs: [KernelArgument], outputCounts: [Int], threads: Int) throws -> [[Float]] {
    guard let handle = dlopen(path.path, RTLD_NOW | RTLD_LOCAL) else {
      throw HarnessError("dlopen \(path.path): \(String(cString: dlerror()))")
    }
    defer { dlclose(handle) }
    guard let symbol = dlsym(handle, "kiln_test_entry_\(entry)") else {
      throw HarnessError("\(path.lastPathComponent) has no kiln_test_entry_\(entry)")
    }
    let function = unsafeBitCast(symbol, to: Entry.self)

    let inputBuffers = inputs.map { argument -> UnsafeMutableRawPointer in
      switch argument {
      case .f32(let values): return Self.copy(values)
      case .i32(let values): return Self.copy(values)
      }
    }
    let outputBuffers = outputCounts.map { count -> UnsafeMutablePointer<Float> in
      let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
      buffer.initialize(repeating: .nan, count: max(count, 1))
      return buffer
    }
    defer {
      inputBuffers.forEach { $0.deallocate() }
      outputBuffers.forEach { $0.deallocate() }
    }
    let inputPointers: [UnsafeRawPointer?] = inputBuffers.map { UnsafeRawPointer($0) }
    let outputPointers: [UnsafeMutablePointer<Float>?] = outputBuffers
    inputPointers.withUnsafeBufferPointer { inputTable in
      outputPointers.withUnsafeBufferPointer { outputTable in
        for thread in 0..<threads {
          function(inputTable.baseAddress, outputTable.baseAddress, Int32(thread), Int32(threads))
        }
      }
    }
    return zip(outputBuffers, outputCounts).map { Array(UnsafeBufferPointer(start: $0, count: $1)) }
  }

  /// A 64-byte aligned copy of `values` (at least one element, so the pointer is never dangling).
  private static func copy<T>(_ values: [T]) -> UnsafeMutableRawPointer {
    let bytes = max(values.count, 1) * MemoryLayout<T>.stride
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    values.withUnsafeBytes { source in
      if let base = source.baseAddress { buffer.copyMemory(from: base, byteCount: source.count) }
    }
    return buffer
  }
}

struct HarnessError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
