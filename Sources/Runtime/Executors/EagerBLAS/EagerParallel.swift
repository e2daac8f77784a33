import Dispatch

/// How eager-BLAS spreads one op's elements over its threads: contiguous chunks, one per thread,
/// and no split at all below a framework-sized grain (PyTorch's is 32 768 elements), where waking
/// threads costs more than it saves.
///
/// The one place the eager kernels meet threads: the pinned thread team will replace the body.
struct EagerParallelism: Sendable {
  let threads: Int
  static let grain = 32_768

  /// Calls `body` on disjoint ranges covering `0..<count`, concurrently when the work is large enough.
  func forEachChunk(of count: Int, grain: Int = EagerParallelism.grain, _ body: (Range<Int>) -> Void) {
    let chunks = min(threads, max(1, count / max(grain, 1)))
    guard chunks > 1 else {
      if count > 0 { body(0..<count) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let shared = ChunkBody(call: body)
      DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        shared.call((count * chunk / chunks)..<(count * (chunk + 1) / chunks))
      }
    }
  }
}

/// The kernels' bodies write through raw pointers into disjoint ranges, and `concurrentPerform`
/// returns only after every chunk has finished: sharing the closure across the chunks is safe,
/// though the compiler cannot see it.
private struct ChunkBody: @unchecked Sendable {
  let call: (Range<Int>) -> Void
}
