import CGIF
import CPNG
import Foundation

/// Writes files under a temporary name in the destination's folder, then renames: an interrupted
/// run leaves no half-written image under the final name.
enum AtomicFile {
  static func write(to url: URL, _ body: (URL) throws -> Void) throws {
    let folder = url.deletingLastPathComponent()
    let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).partial")
    do {
      try body(temporary)
      guard rename(temporary.path, url.path) == 0 else {
        throw GenerationError.output("\(url.path): cannot rename the finished file into place (\(String(cString: strerror(errno))))")
      }
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw error
    }
  }
}

/// PNG files through libpng.
public enum PNGWriter {
  public static func write(_ image: RGBImage, to url: URL) throws {
    try AtomicFile.write(to: url) { temporary in
      guard let file = fopen(temporary.path, "wb") else {
        throw GenerationError.output("\(url.path): cannot create (\(String(cString: strerror(errno))))")
      }
      var message = [CChar](repeating: 0, count: 256)
      let status = image.pixels.withUnsafeBufferPointer { pixels in
        kiln_png_write_rgb(file, pixels.baseAddress, Int32(image.width), Int32(image.height), &message, message.count)
      }
      let closed = fclose(file)
      guard status == 0 else {
        throw GenerationError.output("\(url.path): libpng could not write the image: \(cText(message))")
      }
      guard closed == 0 else { throw GenerationError.output("\(url.path): write failed (disk full?)") }
    }
  }
}

/// Reads PNG files back (any colour type, converted to 8-bit RGB) through libpng.
public enum PNGReader {
  public static func read(_ url: URL) throws -> RGBImage {
    guard let file = fopen(url.path, "rb") else {
      throw GenerationError.output("\(url.path): cannot open (\(String(cString: strerror(errno))))")
    }
    defer { fclose(file) }
    var message = [CChar](repeating: 0, count: 256)
    var pixels: UnsafeMutablePointer<UInt8>?
    var width: Int32 = 0
    var height: Int32 = 0
    guard kiln_png_read_rgb(file, &pixels, &width, &height, &message, message.count) == 0, let pixels else {
      throw GenerationError.output("\(url.path): not a readable PNG: \(cText(message))")
    }
    defer { free(pixels) }
    let bytes = Array(UnsafeBufferPointer(start: pixels, count: Int(width) * Int(height) * 3))
    return try RGBImage(width: Int(width), height: Int(height), pixels: bytes)
  }
}

/// The animated preview of a video: a looping GIF through giflib (each frame quantized to its
/// own 256-colour map).
public enum AnimationWriter {
  public static func writeGIF(_ frames: [RGBImage], framesPerSecond: Int, to url: URL) throws {
    guard let first = frames.first else { throw GenerationError.output("\(url.path): an animation needs at least one frame") }
    guard frames.allSatisfy({ $0.width == first.width && $0.height == first.height }) else {
      throw GenerationError.output("\(url.path): frames of an animation must share one size")
    }
    let delay = Int32(Swift.max(1, 100 / Swift.max(framesPerSecond, 1)))
    let bytes = frames.flatMap(\.pixels)
    try AtomicFile.write(to: url) { temporary in
      // giflib creates files readable by their owner only; created here first, it keeps the
      // permissions every other output gets.
      guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
        throw GenerationError.output("\(url.path): cannot create (\(String(cString: strerror(errno))))")
      }
      let status = bytes.withUnsafeBufferPointer { buffer in
        kiln_gif_write_rgb_animation(temporary.path, buffer.baseAddress, Int32(first.width), Int32(first.height),
                                     Int32(frames.count), delay)
      }
      guard status == 0 else {
        throw GenerationError.output("\(url.path): giflib could not write the animation: \(String(cString: kiln_gif_error_string(status)))")
      }
    }
  }
}

/// A NUL-terminated C buffer as a Swift string.
private func cText(_ buffer: [CChar]) -> String {
  String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
