import Tracer

/// The eager executor's loops: one function per primitive, each reading whole contiguous operands
/// and writing a new contiguous result, the way a framework's eager mode runs one op at a time.
struct EagerKernels: Sendable {
  let parallelism: EagerParallelism
}

// MARK: - Reductions

extension EagerKernels {
  /// Reduces `axis` (resolved) of `x` to size 1. Viewed as [outer, length, inner]: a row
  /// reduction when inner is 1, else a sum of `length` contiguous inner vectors.
  func reduce(_ op: ReduceOp, _ x: [Float], shape: Shape, axis: Int) -> [Float] {
    let length = shape[axis]
    let inner = shape.dims[(axis + 1)...].reduce(1, *)
    let outer = shape.dims[..<axis].reduce(1, *)
    let scale = op == .mean ? 1 / Float(length) : 1
    return x.withUnsafeBufferPointer { input in
      uninitializedArray(outer * inner) { output in
        let grain = max(1, EagerParallelism.grain / max(length, 1))
        parallelism.forEachChunk(of: outer * inner, grain: grain) { range in
          var slot = range.lowerBound
          while slot < range.upperBound {
            let (o, i) = slot.quotientAndRemainder(dividingBy: inner)
            let width = min(inner - i, range.upperBound - slot)
            let base = o * length * inner + i
            if inner == 1 {
              output[slot] = op == .max ? rowMaximum(input, base, length) : rowSum(input, base, length) * scale
            } else {
              reduceStrided(op, input, base: base, length: length, inner: inner, into: output, at: slot, width: width, scale: scale)
            }
            slot += width
          }
        }
      }
    }
  }

  /// Eight partial sums so the loop vectorizes (a single running sum is a serial dependency).
  private func rowSum(_ x: UnsafeBufferPointer<Float>, _ start: Int, _ count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var j = 0
    while j + 8 <= count {
      lanes += SIMD8<Float>(x[start + j], x[start + j + 1], x[start + j + 2], x[start + j + 3],
                            x[start + j + 4], x[start + j + 5], x[start + j + 6], x[start + j + 7])
      j += 8
    }
    var total = lanes.sum()
    while j < count {
      total += x[start + j]
      j += 1
    }
    return total
  }

  private func rowMaximum(_ x: UnsafeBufferPointer<Float>, _ start: Int, _ count: Int) -> Float {
    var best = -Float.infinity
    for j in 0..<count { best = Maximum.apply(best, x[start + j]) }
    return best
  }

  private func reduceStrided(_ op: ReduceOp, _ x: UnsafeBufferPointer<Float>, base: Int, length: Int, inner: Int,
                             into output: UnsafeMutableBufferPointer<Float>, at slot: Int, width: Int, scale: Float) {
    for j in 0..<width { output[slot + j] = x[base + j] }
    for k in 1..<max(length, 1) {
      let row = base + k * inner
      if op == .max {
        for j in 0..<width { output[slot + j] = Maximum.apply(output[slot + j], x[row + j]) }
      } else {
        for j in 0..<width { output[slot + j] += x[row + j] }
      }
    }
    if op == .mean { for j in 0..<width { output[slot + j] *= scale } }
  }
}

// MARK: - Shape ops (contiguous copies, as `.contiguous()` makes them)

extension EagerKernels {
  /// The elements of a view of `source` copied into a new contiguous array: element (i₀, …, iₙ)
  /// of `shape` is read at `offset + Σ iₖ·strides[k]`. Permute, slice and expand are such views.
  func stridedCopy<Element>(_ source: [Element], shape: Shape, strides: [Int], offset: Int = 0) -> [Element] {
    let (dims, merged) = Self.mergedAxes(shape: shape, strides: strides)
    let count = shape.elementCount
    return source.withUnsafeBufferPointer { input in
      uninitializedArray(count) { output in
        parallelism.forEachChunk(of: count) { range in
          var walker = RowWalker(dims: dims, leftStrides: merged, rightStrides: merged, start: range.lowerBound)
          let step = merged[merged.count - 1]
          var position = range.lowerBound
          while position < range.upperBound {
            let length = min(walker.rowLength - walker.column, range.upperBound - position)
            let from = offset + walker.left
            if step == 1 {
              for j in 0..<length { output[position + j] = input[from + j] }
            } else {
              for j in 0..<length { output[position + j] = input[from + j * step] }
            }
            position += length
            walker.nextRow()
          }
        }
      }
    }
  }

  /// Drops size-1 axes and merges neighbours that are contiguous with each other in the source.
  static func mergedAxes(shape: Shape, strides: [Int]) -> (dims: [Int], strides: [Int]) {
    var dims: [Int] = []
    var merged: [Int] = []
    for axis in 0..<shape.rank where shape[axis] != 1 {
      if let lastStride = merged.last, lastStride == strides[axis] * shape[axis] {
        dims[dims.count - 1] *= shape[axis]
        merged[merged.count - 1] = strides[axis]
      } else {
        dims.append(shape[axis])
        merged.append(strides[axis])
      }
    }
    return dims.isEmpty ? ([1], [0]) : (dims, merged)
  }

  func permute<Element>(_ x: [Element], shape: Shape, order: [Int]) -> [Element] {
    let strides = shape.strides
    return stridedCopy(x, shape: Shape(order.map { shape[$0] }), strides: order.map { strides[$0] })
  }

  func slice<Element>(_ x: [Element], shape: Shape, axis: Int, start: Int, end: Int) -> [Element] {
    var dims = shape.dims
    dims[axis] = end - start
    let strides = shape.strides
    return stridedCopy(x, shape: Shape(dims), strides: strides, offset: start * strides[axis])
  }

  func expand<Element>(_ x: [Element], from shape: Shape, to target: Shape) -> [Element] {
    guard shape.elementCount != target.elementCount else { return x }
    let own = shape.strides
    let lead = target.rank - shape.rank
    let strides = (0..<target.rank).map { axis in
      axis < lead || shape[axis - lead] == 1 ? 0 : own[axis - lead]
    }
    return stridedCopy(x, shape: target, strides: strides)
  }

  func concat<Element>(_ parts: [(values: [Element], shape: Shape)], axis: Int, result: Shape) -> [Element] {
    let outer = result.dims[..<axis].reduce(1, *)
    let inner = result.dims[(axis + 1)...].reduce(1, *)
    let rowLength = result[axis] * inner
    return uninitializedArray(result.elementCount) { output in
      var column = 0
      for part in parts {
        let chunk = part.shape[axis] * inner
        part.values.withUnsafeBufferPointer { input in
          for o in 0..<outer {
            let (from, to) = (o * chunk, o * rowLength + column)
            for j in 0..<chunk { output[to + j] = input[from + j] }
          }
        }
        column += chunk
      }
    }
  }
}

// MARK: - Spatial and lookup

extension EagerKernels {
  /// Repeats each element of the two last axes `scale` times along each.
  func upsampleNearest(_ x: [Float], shape: Shape, scale: Int) -> [Float] {
    let (height, width) = (shape[shape.rank - 2], shape[shape.rank - 1])
    let planes = shape.elementCount / max(height * width, 1)
    let (outH, outW) = (height * scale, width * scale)
    return x.withUnsafeBufferPointer { input in
      uninitializedArray(planes * outH * outW) { output in
        parallelism.forEachChunk(of: planes * outH, grain: max(1, EagerParallelism.grain / max(outW, 1))) { rows in
          for row in rows {
            let (plane, oh) = row.quotientAndRemainder(dividingBy: outH)
            let from = plane * height * width + (oh / scale) * width
            let to = row * outW
            for ow in 0..<outW { output[to + ow] = input[from + ow / scale] }
          }
        }
      }
    }
  }

  /// Rows of a [rows, width] table; the first index outside `0..<rows` is refused, naming its position.
  func gather(table: [Float], shape: Shape, indices: [Int32]) throws(GatherIndexError) -> [Float] {
    let (rows, width) = (shape[0], shape[1])
    if let bad = indices.firstIndex(where: { $0 < 0 || Int($0) >= rows }) {
      throw GatherIndexError(index: indices[bad], position: bad, rows: rows)
    }
    return table.withUnsafeBufferPointer { table in
      indices.withUnsafeBufferPointer { indices in
        uninitializedArray(indices.count * width) { output in
          for (position, index) in indices.enumerated() {
            let (from, to) = (Int(index) * width, position * width)
            for j in 0..<width { output[to + j] = table[from + j] }
          }
        }
      }
    }
  }
}

struct GatherIndexError: Error {
  let index: Int32
  let position: Int
  let rows: Int
}
