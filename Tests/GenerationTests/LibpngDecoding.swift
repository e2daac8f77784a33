import CPNG
import Foundation

/// A PNG decoded by the test itself through libpng, independent of the library's PNGReader.
struct DecodedPNG {
  let width: Int
  let height: Int
  let pixels: [UInt8]

  enum Failure: Error { case unreadable(String) }

  init(_ url: URL) throws {
    guard let file = fopen(url.path, "rb") else { throw Failure.unreadable("\(url.path): cannot open") }
    defer { fclose(file) }
    var message = [CChar](repeating: 0, count: 256)
    var buffer: UnsafeMutablePointer<UInt8>?
    var (width, height): (Int32, Int32) = (0, 0)
    guard kiln_png_read_rgb(file, &buffer, &width, &height, &message, message.count) == 0, let buffer else {
      throw Failure.unreadable("\(url.path): libpng refused it")
    }
    defer { free(buffer) }
    self.width = Int(width)
    self.height = Int(height)
    pixels = Array(UnsafeBufferPointer(start: buffer, count: Int(width) * Int(height) * 3))
  }
}
