/// Summary of repeated timing samples. Every sample is kept; the summary never replaces them.
public struct SampleStatistics: Hashable, Sendable, Codable {
  /// Above this spread a figure is flagged as not trustworthy in every output.
  public static let defaultSpreadThreshold = 0.10

  public let samples: [Double]
  public let median: Double
  public let min: Double
  public let max: Double

  /// nil when there are no samples: there is nothing honest to summarize.
  public init?(_ samples: [Double]) {
    guard !samples.isEmpty else { return nil }
    let sorted = samples.sorted()
    self.samples = samples
    self.min = sorted[0]
    self.max = sorted[sorted.count - 1]
    let middle = sorted.count / 2
    self.median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  }

  /// (max − min) / median: how far apart the samples are relative to the figure reported.
  public var spread: Double { median > 0 ? (max - min) / median : 0 }

  /// False when the samples disagree by more than `threshold` of the median. A single sample has
  /// no spread to judge and counts as trustworthy only as far as one run goes; reports show the count.
  public func isTrustworthy(threshold: Double = defaultSpreadThreshold) -> Bool { spread <= threshold }

  /// Every sample scaled by `factor` (seconds → milliseconds), the summary recomputed.
  public func scaled(by factor: Double) -> SampleStatistics {
    SampleStatistics(samples.map { $0 * factor }) ?? self
  }
}
