import Foundation
import Synchronization

/// A spinning barrier for executors written in Swift: every one of `threadCount` threads calls
/// `wait()` and none returns until all have arrived. Reusable: the generation counter tells one
/// episode from the next. (Emitted C modules use the barrier of their own ABI header.)
///
/// Arrivals spin, yielding the core after a while so an oversubscribed machine still makes progress.
public final class TeamBarrier: Sendable {
  public let threadCount: Int
  private let arrived = Atomic<Int>(0)
  private let generation = Atomic<Int>(0)
  private static let spinsBeforeYield = 4_096

  public init(threadCount: Int) throws {
    guard threadCount >= 1 else { throw RuntimeError.unsupported("barrier: \(threadCount) threads; at least 1 is needed") }
    self.threadCount = threadCount
  }

  public func wait() {
    let episode = generation.load(ordering: .acquiring)
    if arrived.add(1, ordering: .acquiringAndReleasing).newValue == threadCount {
      arrived.store(0, ordering: .relaxed)
      // Releasing: everything written before the barrier is visible to the threads it wakes.
      generation.add(1, ordering: .releasing)
      return
    }
    var spins = 0
    while generation.load(ordering: .acquiring) == episode {
      spins += 1
      if spins >= Self.spinsBeforeYield {
        sched_yield()
        spins = 0
      }
    }
  }
}
