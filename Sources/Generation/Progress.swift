import Foundation

/// Told about each finished denoising step and each phase of a generation.
public protocol GenerationProgress: AnyObject {
  func began(_ phase: String)
  func finishedStep(_ step: Int, of total: Int, elapsedSeconds: Double)
  func finishedSteps()
}

/// Progress on standard output: on a terminal a bar redrawn in place (step i/N, steps/s, ETA);
/// otherwise one plain line per step.
public final class ConsoleProgress: GenerationProgress {
  private let isTerminal: Bool
  private let barWidth = 30

  public init(isTerminal: Bool = isatty(STDOUT_FILENO) != 0) {
    self.isTerminal = isTerminal
  }

  public func began(_ phase: String) {
    print(phase)
    fflush(nil)  // every stream: Swift 6 cannot name the global `stdout` safely
  }

  public func finishedStep(_ step: Int, of total: Int, elapsedSeconds: Double) {
    let rate = elapsedSeconds > 0 ? Double(step) / elapsedSeconds : 0
    let remaining = rate > 0 ? Double(total - step) / rate : 0
    let numbers = String(format: "step %d/%d  %.2f steps/s  ETA %.1f s", step, total, rate, remaining)
    if isTerminal {
      let filled = total > 0 ? barWidth * step / total : barWidth
      let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: barWidth - filled)
      print("\r\u{1B}[2K  [\(bar)] \(numbers)", terminator: "")
    } else {
      print("  \(numbers)")
    }
    fflush(nil)  // every stream: Swift 6 cannot name the global `stdout` safely
  }

  public func finishedSteps() {
    if isTerminal { print("") }
  }
}

/// What a generation measured, as the CLI prints it and the bench stores it.
public struct GenerationSummary: Codable, Sendable, Equatable {
  public var model: String
  public var executor: String
  public var threads: Int
  public var sampler: String
  public var seed: UInt64
  /// Where the denoiser's and the VAE's weights came from.
  public var weights: String
  public var vaeWeights: String
  public var steps: Int
  /// Forward passes per step (2 with classifier-free guidance batched, else 1) are inside one step.
  public var secondsPerStep: Double
  public var denoiseSeconds: Double
  public var vaeSeconds: Double
  /// Tracing, weight initialization or loading and compilation of both models.
  public var setupSeconds: Double
  public var totalSeconds: Double
  /// Denoiser FLOPs per step (GraphStatistics of the traced graph) × steps / denoising time.
  public var gflops: Double
  public var images: Int
  public var frames: Int
  /// Images (or frames) per minute over the whole generation, setup included.
  public var imagesPerMinute: Double
  public var framesPerMinute: Double
  public var files: [String]

  public var text: String {
    var lines = [
      "\(model): \(steps) \(sampler) steps on \(executor), \(threads) thread\(threads == 1 ? "" : "s"), seed \(seed)",
      "  weights: \(weights); VAE: \(vaeWeights)",
      String(format: "  denoising %.3f s/step, %.2f s in all, %.1f GFLOP/s", secondsPerStep, denoiseSeconds, gflops),
      String(format: "  VAE decode %.2f s; setup (trace, weights, compile) %.2f s; total %.2f s", vaeSeconds, setupSeconds, totalSeconds),
    ]
    if frames > 0 {
      lines.append(String(format: "  %d frames, %.1f frames/min", frames, framesPerMinute))
    } else {
      lines.append(String(format: "  %d image%@, %.2f images/min", images, images == 1 ? "" : "s", imagesPerMinute))
    }
    lines += files.map { "  → \($0)" }
    return lines.joined(separator: "\n")
  }
}

/// Monotonic seconds since an arbitrary start.
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Runs `steps` denoising steps, timing them and telling `progress`.
func timedSteps(_ steps: Int, progress: (any GenerationProgress)?, _ body: (Int) throws -> Void) rethrows -> Double {
  let start = now()
  for index in 0..<steps {
    try body(index)
    progress?.finishedStep(index + 1, of: steps, elapsedSeconds: now() - start)
  }
  progress?.finishedSteps()
  return now() - start
}
