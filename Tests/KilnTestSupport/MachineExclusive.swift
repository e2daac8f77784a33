import Testing

/// Suites marked `.machineExclusive` never run at the same time as each other, whichever test
/// target they live in: one that counts the process's threads or resident memory cannot be
/// disturbed by another that holds executor teams and arenas. (`.serialized` orders the tests of
/// one suite only.)
public struct MachineExclusive: SuiteTrait, TestScoping {
  public var isRecursive: Bool { false }

  public func provideScope(for test: Test, testCase: Test.Case?,
                           performing function: @Sendable () async throws -> Void) async throws {
    await MachineLock.shared.acquire()
    do {
      try await function()
    } catch {
      await MachineLock.shared.release()
      throw error
    }
    await MachineLock.shared.release()
  }
}

extension Trait where Self == MachineExclusive {
  public static var machineExclusive: Self { MachineExclusive() }
}

/// A first-come, first-served lock that suspends rather than blocks, so waiting suites do not
/// hold the threads the running one needs.
actor MachineLock {
  static let shared = MachineLock()
  private var held = false
  private var waiting: [CheckedContinuation<Void, Never>] = []

  func acquire() async {
    guard held else {
      held = true
      return
    }
    await withCheckedContinuation { waiting.append($0) }
  }

  func release() {
    if waiting.isEmpty {
      held = false
    } else {
      waiting.removeFirst().resume()
    }
  }
}
