import Foundation
import Tracer

/// A new array of `count` elements, every one written by `fill` (no zeroing first, as a framework's
/// `empty` does not zero).
func uninitializedArray<Element>(_ count: Int, _ fill: (UnsafeMutableBufferPointer<Element>) throws -> Void) rethrows -> [Element] {
  try [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
    try fill(buffer)
    initialized = count
  }
}

// MARK: - Unary

/// One pointwise function of one f32, specialized per op so the loop over it is a plain loop.
protocol UnaryFunction { static func apply(_ x: Float) -> Float }

enum Negate: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { -x } }
enum Exponential: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { EagerMath.exp(x) } }
enum Logarithm: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { Foundation.log(x) } }
enum SquareRoot: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { x.squareRoot() } }
enum ReciprocalSquareRoot: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { 1 / x.squareRoot() } }
enum HyperbolicTangent: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { EagerMath.tanh(x) } }
enum ErrorFunction: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { Foundation.erf(x) } }
enum Sigmoid: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { EagerMath.sigmoid(x) } }
enum Sine: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { Foundation.sin(x) } }
enum Cosine: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { Foundation.cos(x) } }
enum Reciprocal: UnaryFunction { @inline(__always) static func apply(_ x: Float) -> Float { 1 / x } }

extension EagerKernels {
  func unary(_ op: UnaryOp, _ x: [Float]) -> [Float] {
    switch op {
    case .neg: return map(x, Negate.self)
    case .exp: return map(x, Exponential.self)
    case .log: return map(x, Logarithm.self)
    case .sqrt: return map(x, SquareRoot.self)
    case .rsqrt: return map(x, ReciprocalSquareRoot.self)
    case .tanh: return map(x, HyperbolicTangent.self)
    case .erf: return map(x, ErrorFunction.self)
    case .sigmoid: return map(x, Sigmoid.self)
    case .sin: return map(x, Sine.self)
    case .cos: return map(x, Cosine.self)
    case .reciprocal: return map(x, Reciprocal.self)
    }
  }

  private func map<F: UnaryFunction>(_ x: [Float], _: F.Type) -> [Float] {
    x.withUnsafeBufferPointer { input in
      uninitializedArray(input.count) { output in
        parallelism.forEachChunk(of: input.count) { range in
          for i in range { output[i] = F.apply(input[i]) }
        }
      }
    }
  }
}

// MARK: - Binary

/// One pointwise function of two f32s, specialized per op.
protocol BinaryFunction { static func apply(_ a: Float, _ b: Float) -> Float }

enum Add: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b } }
enum Subtract: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b } }
enum Multiply: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b } }
enum Divide: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b } }
/// NaN in either operand gives NaN, as PyTorch's `maximum` does.
enum Maximum: BinaryFunction {
  @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a > b || a.isNaN ? a : b }
}
enum Minimum: BinaryFunction {
  @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a < b || a.isNaN ? a : b }
}
enum Power: BinaryFunction { @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { Foundation.pow(a, b) } }

/// A broadcast binary op reduced to its simplest loop nest: result axes of size 1 dropped, and
/// neighbouring axes merged when both operands either walk or repeat along them alike. Same
/// shapes become one axis; a bias row, a per-row statistic or a scalar become two at most.
struct BroadcastLoop: Equatable {
  var dims: [Int]
  var leftStrides: [Int]
  var rightStrides: [Int]

  init(left: Shape, right: Shape, result: Shape) {
    func repeats(_ operand: Shape, _ axis: Int) -> Bool {
      let own = axis - (result.rank - operand.rank)
      return own < 0 || operand[own] == 1
    }
    var dims: [Int] = []
    var pattern: [(Bool, Bool)] = []
    for axis in 0..<result.rank where result[axis] != 1 {
      let flags = (repeats(left, axis), repeats(right, axis))
      if let last = pattern.last, last == flags {
        dims[dims.count - 1] *= result[axis]
      } else {
        dims.append(result[axis])
        pattern.append(flags)
      }
    }
    if dims.isEmpty {
      dims = [1]
      pattern = [(true, true)]
    }
    func strides(_ repeated: [Bool]) -> [Int] {
      var strides = [Int](repeating: 0, count: dims.count)
      var running = 1
      for axis in stride(from: dims.count - 1, through: 0, by: -1) where !repeated[axis] {
        strides[axis] = running
        running *= dims[axis]
      }
      return strides
    }
    self.dims = dims
    leftStrides = strides(pattern.map(\.0))
    rightStrides = strides(pattern.map(\.1))
  }
}

/// Walks a flat range of a row-major iteration space row by row, keeping each operand's offset:
/// the odometer runs once per row, never per element.
struct RowWalker {
  let dims: [Int]
  let leftStrides: [Int]
  let rightStrides: [Int]
  private var index: [Int]
  /// Offsets of the current element (row start plus column) in each operand.
  private(set) var left = 0
  private(set) var right = 0

  init(dims: [Int], leftStrides: [Int], rightStrides: [Int], start: Int) {
    self.dims = dims
    self.leftStrides = leftStrides
    self.rightStrides = rightStrides
    index = [Int](repeating: 0, count: dims.count)
    var remainder = start
    for axis in stride(from: dims.count - 1, through: 0, by: -1) {
      index[axis] = remainder % dims[axis]
      remainder /= dims[axis]
      left += index[axis] * leftStrides[axis]
      right += index[axis] * rightStrides[axis]
    }
  }

  var rowLength: Int { dims[dims.count - 1] }
  var column: Int { index[dims.count - 1] }

  /// Moves to the first column of the next row.
  mutating func nextRow() {
    let last = dims.count - 1
    left -= index[last] * leftStrides[last]
    right -= index[last] * rightStrides[last]
    index[last] = 0
    var axis = last - 1
    while axis >= 0 {
      index[axis] += 1
      left += leftStrides[axis]
      right += rightStrides[axis]
      if index[axis] < dims[axis] { return }
      left -= leftStrides[axis] * dims[axis]
      right -= rightStrides[axis] * dims[axis]
      index[axis] = 0
      axis -= 1
    }
  }
}

extension EagerKernels {
  func binary(_ op: BinaryOp, _ a: [Float], _ aShape: Shape, _ b: [Float], _ bShape: Shape, result: Shape) -> [Float] {
    let loop = BroadcastLoop(left: aShape, right: bShape, result: result)
    switch op {
    case .add: return broadcast(a, b, loop, Add.self)
    case .sub: return broadcast(a, b, loop, Subtract.self)
    case .mul: return broadcast(a, b, loop, Multiply.self)
    case .div: return broadcast(a, b, loop, Divide.self)
    case .max: return broadcast(a, b, loop, Maximum.self)
    case .min: return broadcast(a, b, loop, Minimum.self)
    case .pow: return broadcast(a, b, loop, Power.self)
    }
  }

  private func broadcast<F: BinaryFunction>(_ a: [Float], _ b: [Float], _ loop: BroadcastLoop, _: F.Type) -> [Float] {
    let count = loop.dims.reduce(1, *)
    return a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        uninitializedArray(count) { output in
          parallelism.forEachChunk(of: count) { range in
            var walker = RowWalker(dims: loop.dims, leftStrides: loop.leftStrides, rightStrides: loop.rightStrides,
                                   start: range.lowerBound)
            let (leftWalks, rightWalks) = (loop.leftStrides.last != 0, loop.rightStrides.last != 0)
            var position = range.lowerBound
            while position < range.upperBound {
              let length = min(walker.rowLength - walker.column, range.upperBound - position)
              let (l, r, o) = (walker.left, walker.right, position)
              switch (leftWalks, rightWalks) {
              case (true, true): for j in 0..<length { output[o + j] = F.apply(a[l + j], b[r + j]) }
              case (true, false):
                let scalar = b[r]
                for j in 0..<length { output[o + j] = F.apply(a[l + j], scalar) }
              case (false, true):
                let scalar = a[l]
                for j in 0..<length { output[o + j] = F.apply(scalar, b[r + j]) }
              case (false, false):
                let value = F.apply(a[l], b[r])
                for j in 0..<length { output[o + j] = value }
              }
              position += length
              walker.nextRow()
            }
          }
        }
      }
    }
  }
}
