/// An 8-bit RGB image, rows top to bottom, `width · height · 3` bytes.
public struct RGBImage: Sendable, Equatable {
  public let width: Int
  public let height: Int
  public var pixels: [UInt8]

  public init(width: Int, height: Int, pixels: [UInt8]) throws(GenerationError) {
    guard width >= 1, height >= 1, pixels.count == width * height * 3 else {
      throw GenerationError.output("image: \(pixels.count) bytes for \(width)×\(height) RGB (\(width * height * 3) needed)")
    }
    self.width = width
    self.height = height
    self.pixels = pixels
  }

  /// A decoder's output for one image, [3, H, W] planes in [−1, 1], mapped to bytes as diffusers
  /// does: clamp(x/2 + 0.5, 0, 1)·255, rounded.
  public init(planes: ArraySlice<Float>, width: Int, height: Int) throws(GenerationError) {
    let plane = width * height
    guard planes.count == 3 * plane else {
      throw GenerationError.output("decoder output: \(planes.count) values for a 3×\(height)×\(width) image")
    }
    let base = planes.startIndex
    var pixels = [UInt8](repeating: 0, count: 3 * plane)
    for channel in 0..<3 {
      for i in 0..<plane {
        let value = Swift.min(Swift.max(planes[base + channel * plane + i] / 2 + 0.5, 0), 1)
        pixels[3 * i + channel] = UInt8((value * 255).rounded())
      }
    }
    try self.init(width: width, height: height, pixels: pixels)
  }
}
