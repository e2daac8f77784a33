import Foundation
import Tracer

/// One executor's forward pass, timed: one warm-up run (which also gives the outputs), then
/// `repetitions` timed runs, every sample kept.
public struct ForwardMeasurement: Sendable {
  public var outputs: [String: RuntimeTensor]
  /// Wall seconds of each timed run, in order.
  public var samples: [Double]

  public var medianSeconds: Double {
    let sorted = samples.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  }

  public static func measure(_ executor: any Executor, inputs: [String: RuntimeTensor], repetitions: Int) throws -> ForwardMeasurement {
    guard repetitions >= 1 else { throw RuntimeError.unsupported("repetitions: \(repetitions) is not positive") }
    let outputs = try executor.run(inputs)
    var samples: [Double] = []
    for _ in 0..<repetitions {
      let start = DispatchTime.now().uptimeNanoseconds
      _ = try executor.run(inputs)
      samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    return ForwardMeasurement(outputs: outputs, samples: samples)
  }
}

/// How far two sets of outputs are apart: ‖out − ref‖₂ / ‖ref‖₂ over every output together.
public enum OutputComparison {
  public static func relativeError(_ outputs: [String: RuntimeTensor], reference: [String: RuntimeTensor]) throws -> Double {
    try relativeError(outputs, reference: reference.mapValues { (shape: $0.shape, values: $0.floats.map(Double.init)) })
  }

  public static func relativeError(_ outputs: [String: RuntimeTensor], reference: [String: (shape: Shape, values: [Double])]) throws -> Double {
    guard Set(outputs.keys) == Set(reference.keys) else {
      throw RuntimeError.invalidFeed(
        "outputs differ: \(outputs.keys.sorted().joined(separator: ", ")) against \(reference.keys.sorted().joined(separator: ", "))")
    }
    var difference = 0.0
    var norm = 0.0
    for (name, expected) in reference {
      guard let actual = outputs[name], actual.shape == expected.shape else {
        throw RuntimeError.invalidFeed("output '\(name)' has shape \(outputs[name]?.shape.description ?? "-"), the reference \(expected.shape)")
      }
      for (a, r) in zip(actual.floats, expected.values) {
        let d = Double(a) - r
        difference += d * d
        norm += r * r
      }
    }
    return norm == 0 ? difference.squareRoot() : (difference / norm).squareRoot()
  }
}
