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
  private let a: UnsafeMutableBufferPointer<Float>
  private let b: UnsafeMutableBufferPointer<Float>
  private let c: UnsafeMutableBufferPointer<Float>

  public init(a values: [Float], weight: [Float], m: Int, n: Int, k: Int, threads: Int) throws {
    guard threads >= 1 else { throw RuntimeError.invalidFeed("OpenBLAS sgemm: threads must be at least 1, got \(threads)") }
    guard values.count == m * k, weight.count == n * k else {
      throw RuntimeError.invalidFeed("OpenBLAS sgemm \(m)×\(n)×\(k): got \(values.count) A values and \(weight.count) B values")
    }
    blas = try OpenBLASLibrary.shared()
    (self.m, self.n, self.k, self.threads) = (m, n, k, threads)
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
  public func run() -> Double {
    blas.setThreads(threads)
    let start = DispatchTime.now().uptimeNanoseconds
    blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k), 1,
               a.baseAddress, blasint(k), b.baseAddress, blasint(k), 0, c.baseAddress, blasint(n))
    return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
  }

  /// C after the last run.
  public var result: [Float] { Array(c) }
}
