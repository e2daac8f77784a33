/// Where a value lives: an activation buffer of the arena, or a weight slot (packed or plain).
public enum Storage: Hashable, Sendable, Codable {
  case activation(Int)
  case weight(Int)
}

/// A tensor seen through offsets and strides (in elements) over some storage. Shape ops become
/// views instead of copies: a permute swaps strides, a slice moves the offset, an expand sets a
/// stride to 0, a reshape regroups strides when the memory allows it.
public struct StridedView: Hashable, Sendable, Codable {
  public var storage: Storage
  public var offset: Int
  public var shape: [Int]
  public var strides: [Int]

  public init(storage: Storage, offset: Int = 0, shape: [Int], strides: [Int]) {
    self.storage = storage
    self.offset = offset
    self.shape = shape
    self.strides = strides
  }

  /// A dense row-major tensor at the start of `storage`.
  public static func contiguous(_ storage: Storage, shape: [Int]) -> StridedView {
    StridedView(storage: storage, shape: shape, strides: rowMajorStrides(shape))
  }

  public var elementCount: Int { shape.reduce(1, *) }

  /// True when the elements are dense and in row-major order (size-1 axes' strides don't matter).
  public var isContiguous: Bool {
    zip(zip(shape, strides), Self.rowMajorStrides(shape)).allSatisfy { pair, expected in
      pair.0 == 1 || pair.1 == expected
    }
  }

  public func permuted(_ order: [Int]) -> StridedView {
    StridedView(storage: storage, offset: offset, shape: order.map { shape[$0] }, strides: order.map { strides[$0] })
  }

  public func sliced(axis: Int, start: Int, end: Int) -> StridedView {
    var view = self
    view.offset += start * strides[axis]
    view.shape[axis] = end - start
    return view
  }

  /// Broadcast to `target` (numpy rules): stretched and new axes read with stride 0.
  public func expanded(to target: [Int]) -> StridedView {
    let lead = target.count - shape.count
    let strides = target.indices.map { axis -> Int in
      guard axis >= lead else { return 0 }
      return shape[axis - lead] == target[axis] ? self.strides[axis - lead] : 0
    }
    return StridedView(storage: storage, offset: offset, shape: target, strides: strides)
  }

  /// The same elements seen with `target`'s shape, or nil when the strides cannot express it
  /// without a copy (numpy's no-copy reshape rule: each group of merged axes must be dense
  /// among itself).
  public func reshaped(to target: [Int]) -> StridedView? {
    let source = zip(shape, strides).filter { $0.0 != 1 }
    let targetNonUnit = target.filter { $0 != 1 }
    var newStrides: [Int] = []
    var i = 0
    var j = 0
    while i < source.count || j < targetNonUnit.count {
      guard i < source.count, j < targetNonUnit.count else { return nil }
      // Grow a group of source axes and target axes until their element counts agree.
      var (sourceCount, targetCount) = (source[i].0, targetNonUnit[j])
      var (iEnd, jEnd) = (i + 1, j + 1)
      while sourceCount != targetCount {
        if sourceCount < targetCount {
          guard iEnd < source.count else { return nil }
          sourceCount *= source[iEnd].0
          iEnd += 1
        } else {
          guard jEnd < targetNonUnit.count else { return nil }
          targetCount *= targetNonUnit[jEnd]
          jEnd += 1
        }
      }
      // The source axes of the group must be dense among themselves.
      for axis in i..<(iEnd - 1) where source[axis].1 != source[axis + 1].1 * source[axis + 1].0 {
        return nil
      }
      var running = source[iEnd - 1].1
      var groupStrides: [Int] = []
      for axis in stride(from: jEnd - 1, through: j, by: -1) {
        groupStrides.insert(running, at: 0)
        running *= targetNonUnit[axis]
      }
      newStrides += groupStrides
      (i, j) = (iEnd, jEnd)
    }
    var result: [Int] = []
    var next = 0
    for dim in target {
      if dim == 1 {
        result.append(0)
      } else {
        result.append(newStrides[next])
        next += 1
      }
    }
    return StridedView(storage: storage, offset: offset, shape: target, strides: result)
  }

  public static func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
      strides[axis] = running
      running *= shape[axis]
    }
    return strides
  }
}
