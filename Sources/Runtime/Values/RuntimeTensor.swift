import Tracer

/// A tensor in host memory, row-major: what executors take as inputs and give back as outputs,
/// and what weight files load into.
public struct RuntimeTensor: Sendable, Equatable {
  public enum Storage: Sendable, Equatable {
    case f32([Float])
    case i32([Int32])
  }

  public var shape: Shape
  public var storage: Storage

  public init(shape: Shape, storage: Storage) throws(RuntimeError) {
    let count: Int
    switch storage {
    case .f32(let values): count = values.count
    case .i32(let values): count = values.count
    }
    guard count == shape.elementCount else {
      throw RuntimeError.invalidTensor("\(count) values for shape \(shape) (\(shape.elementCount) elements)")
    }
    self.shape = shape
    self.storage = storage
  }

  public init(shape: Shape, floats: [Float]) throws(RuntimeError) { try self.init(shape: shape, storage: .f32(floats)) }

  public var dtype: DType {
    switch storage {
    case .f32: return .f32
    case .i32: return .i32
    }
  }

  /// The values as f32 (indices converted), for comparisons and checks.
  public var floats: [Float] {
    switch storage {
    case .f32(let values): return values
    case .i32(let values): return values.map(Float.init)
    }
  }
}
