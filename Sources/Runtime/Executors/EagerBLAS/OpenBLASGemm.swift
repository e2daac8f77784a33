import COpenBLAS
import Foundation

/// One `cblas_sgemm` of the library the eager-blas executor loads (same core type), on buffers
/// allocated once: C[M×N] = A[M×K]·Bᵀ with B a linear layer's [N, K] weight. It is the GEMM
/// baseline of the bench's kernel benchmarks. The eager-blas executor on the same bare graph makes
/// exactly this one call but allocates a fresh M×N result on every run; this times the call alone.
public final class OpenBLASGemm {
  public let blas: OpenBLASLibrary
  public let m: Int
  public let n: Int
  public let k: Int
  public let threads: Int
  /// The CPUs OpenBLAS's threads are pinned to while this GEMM runs (the calling thread first), or nil.
  public let cpus: [Int]?
  /// Whether the last run ran pinned to `cpus` (false where this OpenBLAS cannot pin its threads).
  public private(set) var ranPinned = false
  private let a: UnsafeMutableBufferPointer<Float>
  private let b: UnsafeMutableBufferPointer<Float>
  private let c: UnsafeMutableBufferPointer<Float>

  /// - Parameter cpus: where to pin the `threads` threads during each run, the calling thread on
  ///   the first: the CPUs a compiled executor's team uses, so that both sides of a comparison meet
  ///   the same other work on the same cores. nil leaves the threads where the scheduler puts them.
  public init(a values: [Float], weight: [Float], m: Int, n: Int, k: Int, threads: Int, pinnedTo cpus: [Int]? = nil) throws {
    guard threads >= 1 else { throw RuntimeError.invalidFeed("OpenBLAS sgemm: threads must be at least 1, got \(threads)") }
    guard values.count == m * k, weight.count == n * k else {
      throw RuntimeError.invalidFeed("OpenBLAS sgemm \(m)×\(n)×\(k): got \(values.count) A values and \(weight.count) B values")
    }
    blas = try OpenBLASLibrary.shared()
    if let cpus, cpus.count != threads {
      throw RuntimeError.invalidFeed("OpenBLAS sgemm: \(threads) threads cannot be pinned to \(cpus.count) CPUs")
    }
    (self.m, self.n, self.k, self.threads, self.cpus) = (m, n, k, threads, cpus)
    func aligned(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
      let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
      return UnsafeMutableBufferPointer(start: raw.bindMemory(to: Float.self, capacity: max(count, 1)), count: count)
    }
    (a, b, c) = (aligned(m * k), aligned(n * k), aligned(m * n))
    _ = a.initialize(from: values)
    _ = b.initialize(from: weight)
    c.initialize(repeating: 0)
  }

  deinit {
    for buffer in [a, b, c] { buffer.baseAddress.map { UnsafeMutableRawPointer($0).deallocate() } }
  }

  /// Runs the GEMM once with the benchmark's thread count; the seconds of the call alone.
  /// With `cpus`, OpenBLAS's threads are pinned before the call and given their affinity back after it.
  public func run() -> Double {
    blas.setThreads(threads)
    let saved = cpus.flatMap { blas.pinThreads(to: $0) }
    ranPinned = saved != nil
    let start = DispatchTime.now().uptimeNanoseconds
    blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k), 1,
               a.baseAddress, blasint(k), b.baseAddress, blasint(k), 0, c.baseAddress, blasint(n))
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    if let saved { blas.restoreAffinity(saved) }
    return seconds
  }

  /// C after the last run.
  public var result: [Float] { Array(c) }
}

extension OpenBLASLibrary {
  /// One thread's CPU mask as `openblas_get/setaffinity` take it (a `cpu_set_t`, 1024 bits).
  public struct SavedAffinity {
    let thread: Int32
    let mask: [UInt8]
  }

  static let cpuSetBytes = 128

  /// Whether this build exports `openblas_setaffinity` and `openblas_getaffinity`.
  public var canPinThreads: Bool { setAffinity != nil && getAffinity != nil }

  /// Pins the threads of the current team (`threads`) to `cpus`: the calling thread, which
  /// OpenBLAS numbers last, to the first CPU, its workers 0, 1, … to the next. Returns the masks to
  /// restore, or nil (nothing left pinned) when the library has no affinity calls, the counts
  /// differ, or a call fails.
  public func pinThreads(to cpus: [Int]) -> [SavedAffinity]? {
    guard let set = setAffinity, let get = getAffinity, cpus.count == threads,
          cpus.allSatisfy({ $0 >= 0 && $0 < Self.cpuSetBytes * 8 }) else { return nil }
    var saved: [SavedAffinity] = []
    for (rank, cpu) in cpus.enumerated() {
      let thread = Int32(rank == 0 ? cpus.count - 1 : rank - 1)
      var old = [UInt8](repeating: 0, count: Self.cpuSetBytes)
      var mask = [UInt8](repeating: 0, count: Self.cpuSetBytes)
      mask[cpu / 8] |= 1 << UInt8(cpu % 8)
      let read = old.withUnsafeMutableBytes { get(thread, Self.cpuSetBytes, $0.baseAddress) }
      let pinned = read == 0 && mask.withUnsafeMutableBytes { set(thread, Self.cpuSetBytes, $0.baseAddress) } == 0
      guard pinned else {
        restoreAffinity(saved)
        return nil
      }
      saved.append(SavedAffinity(thread: thread, mask: old))
    }
    return saved
  }

  /// Gives each thread the mask it had before `pinThreads`.
  public func restoreAffinity(_ saved: [SavedAffinity]) {
    guard let set = setAffinity else { return }
    for entry in saved {
      var mask = entry.mask
      _ = mask.withUnsafeMutableBytes { set(entry.thread, Self.cpuSetBytes, $0.baseAddress) }
    }
  }
}
