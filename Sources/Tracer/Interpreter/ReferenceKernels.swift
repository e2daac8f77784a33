import Foundation

/// The primitives in Double, on row-major value arrays. Shapes are trusted: the interpreter
/// verifies the graph before it calls any of these.
enum ReferenceKernels {
  // MARK: Strided access

  /// The elements of a view of `source`: element (i₀, …, iₙ) of `shape` is read at
  /// `offset + Σ iₖ·strides[k]`. Permute, slice, expand and broadcasting are all such views.
  static func strided(_ source: [Double], shape: Shape, strides: [Int], offset: Int = 0) -> [Double] {
    let rank = shape.rank
    guard rank > 0 else { return [source[offset]] }
    let count = shape.elementCount
    var result = [Double](repeating: 0, count: count)
    let innerCount = shape[rank - 1]
    let innerStride = strides[rank - 1]
    var index = [Int](repeating: 0, count: rank)
    var base = offset
    source.withUnsafeBufferPointer { input in
      result.withUnsafeMutableBufferPointer { output in
        var written = 0
        while written < count {
          var position = base
          for _ in 0..<innerCount {
            output[written] = input[position]
            written += 1
            position += innerStride
          }
          // Advance the multi-index over the outer axes, odometer style.
          var axis = rank - 2
          while axis >= 0 {
            index[axis] += 1
            base += strides[axis]
            if index[axis] < shape[axis] { break }
            base -= strides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
          }
        }
      }
    }
    return result
  }

  /// Strides that read `shape` as if broadcast to `target` (numpy rules): stretched and missing
  /// axes get stride 0.
  static func broadcastStrides(of shape: Shape, to target: Shape) -> [Int] {
    let own = shape.strides
    let lead = target.rank - shape.rank
    return (0..<target.rank).map { axis in
      guard axis >= lead else { return 0 }
      return shape[axis - lead] == 1 ? 0 : own[axis - lead]
    }
  }

  static func broadcast(_ values: [Double], from shape: Shape, to target: Shape) -> [Double] {
    shape == target ? values : strided(values, shape: target, strides: broadcastStrides(of: shape, to: target))
  }

  // MARK: Pointwise

  static func unary(_ op: UnaryOp, _ x: [Double]) -> [Double] {
    switch op {
    case .neg: return x.map { -$0 }
    case .exp: return x.map { Foundation.exp($0) }
    case .log: return x.map { Foundation.log($0) }
    case .sqrt: return x.map { $0.squareRoot() }
    case .rsqrt: return x.map { 1 / $0.squareRoot() }
    case .tanh: return x.map { Foundation.tanh($0) }
    case .erf: return x.map { Foundation.erf($0) }
    case .sigmoid: return x.map { 1 / (1 + Foundation.exp(-$0)) }
    case .sin: return x.map { Foundation.sin($0) }
    case .cos: return x.map { Foundation.cos($0) }
    case .reciprocal: return x.map { 1 / $0 }
    }
  }

  /// `max` and `min` propagate NaN (as PyTorch's maximum/minimum do), which keeps them commutative.
  static func function(of op: BinaryOp) -> (Double, Double) -> Double {
    switch op {
    case .add: return { $0 + $1 }
    case .sub: return { $0 - $1 }
    case .mul: return { $0 * $1 }
    case .div: return { $0 / $1 }
    case .max: return { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
    case .min: return { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
    case .pow: return { Foundation.pow($0, $1) }
    }
  }

  static func binary(_ op: BinaryOp, _ a: [Double], _ aShape: Shape, _ b: [Double], _ bShape: Shape, result: Shape) -> [Double] {
    let f = function(of: op)
    if aShape == result, b.count == 1 {
      let scalar = b[0]
      return a.map { f($0, scalar) }
    }
    if bShape == result, a.count == 1 {
      let scalar = a[0]
      return b.map { f(scalar, $0) }
    }
    let left = broadcast(a, from: aShape, to: result)
    let right = broadcast(b, from: bShape, to: result)
    return zip(left, right).map(f)
  }

  // MARK: Reductions

  /// Reduces `axis` (already resolved) to size 1.
  static func reduce(_ op: ReduceOp, _ x: [Double], shape: Shape, axis: Int) -> [Double] {
    let length = shape[axis]
    let inner = shape.dims[(axis + 1)...].reduce(1, *)
    let outer = shape.dims[..<axis].reduce(1, *)
    var result = [Double](repeating: op == .max ? -.infinity : 0, count: outer * inner)
    x.withUnsafeBufferPointer { input in
      result.withUnsafeMutableBufferPointer { output in
        for o in 0..<outer {
          for k in 0..<length {
            let row = (o * length + k) * inner
            for i in 0..<inner {
              let value = input[row + i]
              let slot = o * inner + i
              switch op {
              case .sum, .mean: output[slot] += value
              case .max: output[slot] = value.isNaN || output[slot].isNaN ? .nan : Swift.max(output[slot], value)
              }
            }
          }
        }
        if op == .mean {
          for slot in output.indices { output[slot] /= Double(length) }
        }
      }
    }
    return result
  }

  // MARK: Matrix product

  /// [..., M, K] × [..., K, N] → [..., M, N] with broadcast batch dimensions, in i-k-j order so the
  /// innermost loop walks rows of `b` and of the result contiguously.
  static func matmul(_ a: [Double], _ aShape: Shape, _ b: [Double], _ bShape: Shape, result: Shape) -> [Double] {
    let (m, k, n) = (aShape[aShape.rank - 2], aShape[aShape.rank - 1], bShape[bShape.rank - 1])
    let batchShape = Shape(Array(result.dims.dropLast(2)))
    let aBatch = Shape(Array(aShape.dims.dropLast(2)))
    let bBatch = Shape(Array(bShape.dims.dropLast(2)))
    // Offsets (in matrices) of each broadcast batch element within a and b.
    let aMatrix = broadcast((0..<aBatch.elementCount).map(Double.init), from: aBatch, to: batchShape)
    let bMatrix = broadcast((0..<bBatch.elementCount).map(Double.init), from: bBatch, to: batchShape)
    var output = [Double](repeating: 0, count: result.elementCount)
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        output.withUnsafeMutableBufferPointer { out in
          for batch in 0..<batchShape.elementCount {
            let aBase = Int(aMatrix[batch]) * m * k
            let bBase = Int(bMatrix[batch]) * k * n
            let outBase = batch * m * n
            for i in 0..<m {
              for p in 0..<k {
                let aip = a[aBase + i * k + p]
                let bRow = bBase + p * n
                let outRow = outBase + i * n
                for j in 0..<n { out[outRow + j] += aip * b[bRow + j] }
              }
            }
          }
        }
      }
    }
    return output
  }

  // MARK: Shape ops

  static func permute(_ x: [Double], shape: Shape, order: [Int]) -> [Double] {
    let strides = shape.strides
    return strided(x, shape: Shape(order.map { shape[$0] }), strides: order.map { strides[$0] })
  }

  static func slice(_ x: [Double], shape: Shape, axis: Int, start: Int, end: Int) -> [Double] {
    var dims = shape.dims
    dims[axis] = end - start
    let strides = shape.strides
    return strided(x, shape: Shape(dims), strides: strides, offset: start * strides[axis])
  }

  static func concat(_ parts: [(values: [Double], shape: Shape)], axis: Int, result: Shape) -> [Double] {
    let outer = result.dims[..<axis].reduce(1, *)
    let inner = result.dims[(axis + 1)...].reduce(1, *)
    var output: [Double] = []
    output.reserveCapacity(result.elementCount)
    for o in 0..<outer {
      for part in parts {
        let chunk = part.shape[axis] * inner
        output.append(contentsOf: part.values[(o * chunk)..<((o + 1) * chunk)])
      }
    }
    return output
  }

  // MARK: Spatial

  /// NCHW input, OIHW weight, symmetric zero padding, grouped channels.
  static func conv2d(_ x: [Double], _ xShape: Shape, _ w: [Double], _ wShape: Shape,
                     _ attributes: Conv2DAttributes, result: Shape) -> [Double] {
    let (batch, channels, height, width) = (xShape[0], xShape[1], xShape[2], xShape[3])
    let (outChannels, groupChannels, kernelH, kernelW) = (wShape[0], wShape[1], wShape[2], wShape[3])
    let (outH, outW) = (result[2], result[3])
    let (strideH, strideW) = (attributes.stride[0], attributes.stride[1])
    let (padH, padW) = (attributes.padding[0], attributes.padding[1])
    let outPerGroup = outChannels / attributes.groups
    var output = [Double](repeating: 0, count: result.elementCount)
    x.withUnsafeBufferPointer { x in
      w.withUnsafeBufferPointer { w in
        output.withUnsafeMutableBufferPointer { out in
          for n in 0..<batch {
            for o in 0..<outChannels {
              let firstInput = (o / outPerGroup) * groupChannels
              let outPlane = (n * outChannels + o) * outH * outW
              for c in 0..<groupChannels {
                let inPlane = (n * channels + firstInput + c) * height * width
                for kh in 0..<kernelH {
                  for kw in 0..<kernelW {
                    let weight = w[((o * groupChannels + c) * kernelH + kh) * kernelW + kw]
                    for oh in 0..<outH {
                      let ih = oh * strideH - padH + kh
                      guard ih >= 0, ih < height else { continue }
                      for ow in 0..<outW {
                        let iw = ow * strideW - padW + kw
                        guard iw >= 0, iw < width else { continue }
                        out[outPlane + oh * outW + ow] += weight * x[inPlane + ih * width + iw]
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return output
  }

  /// Repeats each element of the two last axes `scale` times along each.
  static func upsampleNearest(_ x: [Double], shape: Shape, scale: Int) -> [Double] {
    let (height, width) = (shape[shape.rank - 2], shape[shape.rank - 1])
    let planes = shape.elementCount / (height * width)
    var output: [Double] = []
    output.reserveCapacity(shape.elementCount * scale * scale)
    for plane in 0..<planes {
      for oh in 0..<(height * scale) {
        let row = plane * height * width + (oh / scale) * width
        for ow in 0..<(width * scale) { output.append(x[row + ow / scale]) }
      }
    }
    return output
  }
}
