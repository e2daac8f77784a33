import Foundation

/// This process's resident memory as Linux reports it in `/proc/self/status`: the resident set now
/// (VmRSS) and its high-water mark (VmHWM), which `resetPeak()` brings back down to VmRSS (writing
/// 5 to `/proc/self/clear_refs`, Linux ≥ 4.0), so that the peak of one stretch of work can be read.
public enum ResidentMemory {
  public struct Reading: Sendable, Equatable {
    public var residentBytes: Int
    public var peakBytes: Int

    public init(residentBytes: Int, peakBytes: Int) {
      self.residentBytes = residentBytes
      self.peakBytes = peakBytes
    }
  }

  /// VmRSS and VmHWM now; nil where there is no procfs (not Linux) or it cannot be read.
  public static func read() -> Reading? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    return parse(status: status)
  }

  /// Reads the two fields from the text of `/proc/<pid>/status` (values in kB).
  public static func parse(status: String) -> Reading? {
    var fields: [String: Int] = [:]
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") || line.hasPrefix("VmHWM:") {
      let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard parts.count >= 3, parts[2] == "kB", let kilobytes = Int(parts[1]) else { continue }
      fields[String(parts[0].dropLast())] = kilobytes * 1024
    }
    guard let resident = fields["VmRSS"], let peak = fields["VmHWM"] else { return nil }
    return Reading(residentBytes: resident, peakBytes: peak)
  }

  /// Sets the high-water mark to the resident set now; false where the kernel does not allow it.
  @discardableResult
  public static func resetPeak() -> Bool {
    let descriptor = open("/proc/self/clear_refs", O_WRONLY)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    return write(descriptor, "5", 1) == 1
  }

  /// The memory one stretch of work adds at its peak: opened right before the work (the peak
  /// reset, the resident set noted), read after it (high-water mark − resident set before).
  public struct PeakWindow: Sendable {
    public let residentBefore: Int

    /// nil where the peak cannot be reset or read: then there is no honest figure to give.
    public static func open() -> PeakWindow? {
      guard resetPeak(), let before = read() else { return nil }
      return PeakWindow(residentBefore: before.residentBytes)
    }

    /// Bytes above the resident set at `open()` that the process held at its peak since then.
    public func addedPeakBytes() -> Int? {
      guard let now = read() else { return nil }
      return Swift.max(0, now.peakBytes - residentBefore)
    }
  }
}
