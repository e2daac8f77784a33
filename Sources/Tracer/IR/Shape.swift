/// A static shape: every dimension is known when tracing, because Kiln specializes per shape.
public struct Shape: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByArrayLiteral {
  public var dims: [Int]

  public init(_ dims: [Int]) { self.dims = dims }
  public init(arrayLiteral elements: Int...) { self.dims = elements }

  public var rank: Int { dims.count }
  public var elementCount: Int { dims.reduce(1, *) }
  public subscript(axis: Int) -> Int { dims[axis] }

  /// Row-major (C order) strides in elements.
  public var strides: [Int] {
    var strides = [Int](repeating: 1, count: dims.count)
    var running = 1
    for axis in stride(from: dims.count - 1, through: 0, by: -1) {
      strides[axis] = running
      running *= dims[axis]
    }
    return strides
  }

  /// Resolves a possibly negative axis (`-1` is the last) against this rank, or nil when out of range.
  public func normalizedAxis(_ axis: Int) -> Int? {
    let resolved = axis < 0 ? axis + rank : axis
    return (0..<max(rank, 0)).contains(resolved) ? resolved : nil
  }

  public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }

  public init(from decoder: Decoder) throws { dims = try [Int](from: decoder) }
  public func encode(to encoder: Encoder) throws { try dims.encode(to: encoder) }
}
