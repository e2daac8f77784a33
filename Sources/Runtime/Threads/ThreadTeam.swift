import CNUMA
import Foundation
import Synchronization

/// The body every thread of a team calls: `body(context, thread_id)` — the shape of the emitted
/// module's `kiln_run(kiln_ctx *ctx, int thread_id)`.
public typealias TeamBody = @convention(c) (UnsafeMutableRawPointer?, Int32) -> Void

/// A team of pthreads, one per planned CPU, each pinned to its CPU and numbered node by node as
/// the plan says. `run` makes every thread call the body once with its id and returns when all
/// are done (SPMD, the way the emitted module's `kiln_run` expects to be called).
///
/// The calling thread is *not* a team member: all `threadCount` threads are workers, so every
/// thread id runs on its pinned CPU and the caller (any thread, a Swift task included) keeps its
/// own affinity. The price: with one thread per CPU, the caller's brief spin while it waits
/// competes with a worker for a core until it blocks. Workers wait for work the same way: they
/// spin on a generation counter for a while, then block on a condition variable, so no core
/// burns while the team is idle. `run` calls are serialized; calling `run` from a body deadlocks.
public final class ThreadTeam: @unchecked Sendable {
  /// Team threads are named `kiln-t<thread id>`.
  public static let threadNamePrefix = "kiln-t"

  public let plan: PlacementPlan
  private let shared: TeamState
  private var threads: [pthread_t] = []
  private let dispatchLock = Mutex(())
  private let joined = Atomic<Bool>(false)

  public var threadCount: Int { plan.threadCount }

  /// Starts `plan.threadCount` threads; thread `t` pins itself to `plan.cpuOfThread[t]` before
  /// anything else, and the initializer waits until every thread has reported its pinning.
  /// Throws if a thread cannot be created or pinned (a CPU the process may not use, say); threads
  /// already started are joined first.
  public init(plan: PlacementPlan) throws {
    self.plan = plan
    self.shared = TeamState(threadCount: plan.threadCount)
    do {
      for thread in 0..<plan.threadCount {
        threads.append(try Self.start(thread: thread, cpu: plan.cpuOfThread[thread], shared: shared))
      }
      for (thread, error) in shared.waitForPinning() where error != 0 {
        throw RuntimeError.system(
          "threads: cannot pin thread \(thread) to CPU \(plan.cpuOfThread[thread]): \(String(cString: strerror(error))) (is the CPU in this process's affinity mask?)")
      }
    } catch {
      shutdown()
      throw error
    }
  }

  deinit {
    shutdown()
  }

  /// Makes every thread call `body(context, thread_id)` once; returns when all have returned.
  public func run(_ body: TeamBody, context: UnsafeMutableRawPointer?) {
    dispatchLock.withLock { _ in
      guard !joined.load(ordering: .acquiring), !threads.isEmpty else { return }
      shared.dispatch(body: body, context: context)
    }
  }

  /// Makes every thread call `body(threadID)` once; returns when all have returned. The body runs
  /// concurrently on every thread: what it writes must be disjoint between threads (as in a kernel).
  public func run(_ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { escaping in
      var closure = escaping
      withUnsafeMutablePointer(to: &closure) { pointer in
        run({ context, thread in
          context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(thread))
        }, context: UnsafeMutableRawPointer(pointer))
      }
    }
  }

  /// Zero-fills every region, each thread writing its own rows (`plan.rows(ofThread:count:)`), so
  /// under first touch each node's rows are placed on that node. Run it once, before any kernel.
  public func firstTouch(_ arena: Arena, regions: [ArenaRegion]) throws {
    for region in regions where region.offset < 0 || region.rowBytes < 0 || region.rows < 0
      || region.offset + region.rows * region.rowBytes > arena.byteCount {
      throw RuntimeError.unsupported(
        "arena: region at offset \(region.offset) (\(region.rows) rows × \(region.rowBytes) bytes) is outside the arena's \(arena.byteCount) bytes")
    }
    let base = arena.base
    run { thread in
      for region in regions {
        let rows = plan.rows(ofThread: thread, count: region.rows)
        memset(base.advanced(by: region.offset + rows.lowerBound * region.rowBytes), 0, rows.count * region.rowBytes)
      }
    }
  }

  /// Stops and joins every thread; `run` does nothing afterwards. Called by deinit; idempotent.
  public func shutdown() {
    dispatchLock.withLock { _ in
      guard !joined.exchange(true, ordering: .acquiringAndReleasing) else { return }
      shared.stop()
      for thread in threads { pthread_join(thread, nil) }
      threads.removeAll()
    }
  }

  private static func start(thread: Int, cpu: Int, shared: TeamState) throws -> pthread_t {
    let start = Unmanaged.passRetained(WorkerStart(thread: thread, cpu: cpu, shared: shared)).toOpaque()
    var handle = pthread_t()
    let created = pthread_create(&handle, nil, { argument in
      let start = Unmanaged<WorkerStart>.fromOpaque(argument!).takeRetainedValue()
      nameCurrentThread("\(ThreadTeam.threadNamePrefix)\(start.thread)")
      start.shared.reportPinning(thread: start.thread, error: pinCurrentThread(to: start.cpu))
      start.shared.work(thread: start.thread)
      return nil
    }, start)
    guard created == 0 else {
      Unmanaged<WorkerStart>.fromOpaque(start).release()
      throw RuntimeError.system("threads: cannot start thread \(thread): \(String(cString: strerror(created)))")
    }
    return handle
  }
}

/// Names the calling thread (as `top -H`, `perf` and /proc/self/task/*/comm show it); best effort.
private func nameCurrentThread(_ name: String) {
  let descriptor = open("/proc/thread-self/comm", O_WRONLY)
  guard descriptor >= 0 else { return }
  defer { close(descriptor) }
  let bytes = Array(name.utf8.prefix(15))
  _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
}

/// Pins the calling thread to one CPU; returns 0 or the errno of the failure.
private func pinCurrentThread(to cpu: Int) -> Int32 {
  guard let mask = numa_allocate_cpumask() else { return ENOMEM }
  defer { numa_bitmask_free(mask) }
  guard cpu < Int(mask.pointee.size) else { return EINVAL }
  numa_bitmask_setbit(mask, UInt32(cpu))
  return numa_sched_setaffinity(0, mask) < 0 ? errno : 0
}

private final class WorkerStart {
  let thread: Int
  let cpu: Int
  let shared: TeamState

  init(thread: Int, cpu: Int, shared: TeamState) {
    self.thread = thread
    self.cpu = cpu
    self.shared = shared
  }
}

/// What the caller and the workers share. The job (body, context) is written before the
/// generation counter is bumped with release ordering and read after it is seen with acquire
/// ordering, so a worker that sees a new generation sees its job.
private final class TeamState: @unchecked Sendable {
  /// Spins before blocking: long enough to catch back-to-back runs, short enough not to hold a core.
  static let spinIterations = 20_000

  let threadCount: Int
  let generation = Atomic<UInt64>(0)
  let remaining = Atomic<Int>(0)
  let stopping = Atomic<Bool>(false)
  private var pinErrors: [Int32?]
  private var body: TeamBody?
  private var context: UnsafeMutableRawPointer?
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  private let workAvailable: UnsafeMutablePointer<pthread_cond_t>
  private let workDone: UnsafeMutablePointer<pthread_cond_t>

  init(threadCount: Int) {
    self.threadCount = threadCount
    pinErrors = Array(repeating: nil, count: threadCount)
    mutex = .allocate(capacity: 1)
    workAvailable = .allocate(capacity: 1)
    workDone = .allocate(capacity: 1)
    pthread_mutex_init(mutex, nil)
    pthread_cond_init(workAvailable, nil)
    pthread_cond_init(workDone, nil)
  }

  deinit {
    pthread_cond_destroy(workDone)
    pthread_cond_destroy(workAvailable)
    pthread_mutex_destroy(mutex)
    workDone.deallocate()
    workAvailable.deallocate()
    mutex.deallocate()
  }

  func reportPinning(thread: Int, error: Int32) {
    pthread_mutex_lock(mutex)
    pinErrors[thread] = error
    pthread_cond_broadcast(workDone)
    pthread_mutex_unlock(mutex)
  }

  /// Waits until every started thread has reported; returns each thread's pinning errno (0: pinned).
  func waitForPinning() -> [(thread: Int, error: Int32)] {
    pthread_mutex_lock(mutex)
    while pinErrors.contains(where: { $0 == nil }) {
      pthread_cond_wait(workDone, mutex)
    }
    let errors = pinErrors.enumerated().map { (thread: $0.offset, error: $0.element ?? 0) }
    pthread_mutex_unlock(mutex)
    return errors
  }

  /// Publishes one job, wakes the workers and waits until every one has run it.
  func dispatch(body: TeamBody, context: UnsafeMutableRawPointer?) {
    self.body = body
    self.context = context
    remaining.store(threadCount, ordering: .relaxed)
    pthread_mutex_lock(mutex)
    generation.add(1, ordering: .releasing)
    pthread_cond_broadcast(workAvailable)
    pthread_mutex_unlock(mutex)
    waitUntilDone()
  }

  func stop() {
    pthread_mutex_lock(mutex)
    stopping.store(true, ordering: .releasing)
    generation.add(1, ordering: .releasing)
    pthread_cond_broadcast(workAvailable)
    pthread_mutex_unlock(mutex)
  }

  /// A worker's life: wait for a new generation, run the job, report, repeat until stopped.
  func work(thread: Int) {
    var seen: UInt64 = 0
    while true {
      seen = waitForGeneration(after: seen)
      if stopping.load(ordering: .acquiring) { return }
      body?(context, Int32(thread))
      if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
        // Under the mutex, so a caller that checked `remaining` and is about to wait cannot miss it.
        pthread_mutex_lock(mutex)
        pthread_cond_signal(workDone)
        pthread_mutex_unlock(mutex)
      }
    }
  }

  private func waitForGeneration(after seen: UInt64) -> UInt64 {
    for _ in 0..<Self.spinIterations {
      let current = generation.load(ordering: .acquiring)
      if current != seen { return current }
    }
    pthread_mutex_lock(mutex)
    var current = generation.load(ordering: .acquiring)
    while current == seen {
      pthread_cond_wait(workAvailable, mutex)
      current = generation.load(ordering: .acquiring)
    }
    pthread_mutex_unlock(mutex)
    return current
  }

  private func waitUntilDone() {
    for _ in 0..<Self.spinIterations {
      if remaining.load(ordering: .acquiring) == 0 { return }
    }
    pthread_mutex_lock(mutex)
    while remaining.load(ordering: .acquiring) != 0 {
      pthread_cond_wait(workDone, mutex)
    }
    pthread_mutex_unlock(mutex)
  }
}
