import Foundation
import Testing
@testable import Generation

func temporaryFolder(_ label: String) throws -> URL {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-generation-\(label)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  return folder
}

@Suite struct ImageFileTests {
  static func gradient(width: Int, height: Int) throws -> RGBImage {
    var pixels: [UInt8] = []
    for y in 0..<height {
      for x in 0..<width { pixels += [UInt8(x * 255 / max(width - 1, 1)), UInt8(y * 255 / max(height - 1, 1)), UInt8((x ^ y) & 255)] }
    }
    return try RGBImage(width: width, height: height, pixels: pixels)
  }

  @Test func pngWrittenByLibpngReadsBackPixelForPixel() throws {
    let folder = try temporaryFolder("png")
    let image = try Self.gradient(width: 37, height: 13)
    let url = folder.appendingPathComponent("gradient.png")
    try PNGWriter.write(image, to: url)
    #expect(try PNGReader.read(url) == image)
    // Only the final name is left: the temporary file was renamed.
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["gradient.png"])
  }

  @Test func failedWriteLeavesNoFileUnderTheFinalName() throws {
    let folder = try temporaryFolder("png-fail")
    let url = folder.appendingPathComponent("missing-folder/image.png")
    #expect(throws: GenerationError.self) { try PNGWriter.write(try Self.gradient(width: 4, height: 4), to: url) }
    #expect(!FileManager.default.fileExists(atPath: url.path))
  }

  @Test func decoderPlanesMapToBytesAsDiffusersDoes() throws {
    // [-1, 1] → clamp(x/2 + 0.5)·255, rounded; one pixel, planes R, G, B.
    let image = try RGBImage(planes: [-1, 0, 3][...], width: 1, height: 1)
    #expect(image.pixels == [0, 128, 255])
  }

  @Test func animatedGIFHasTheLoopExtensionAndOneImagePerFrame() throws {
    let folder = try temporaryFolder("gif")
    let frames = try (0..<3).map { _ in try Self.gradient(width: 20, height: 9) }
    let url = folder.appendingPathComponent("preview.gif")
    try AnimationWriter.writeGIF(frames, framesPerSecond: 8, to: url)
    let bytes = try Data(contentsOf: url)
    #expect(bytes.prefix(6) == Data("GIF89a".utf8))
    #expect(bytes.range(of: Data("NETSCAPE2.0".utf8)) != nil)
    // Image descriptors: 0x2C after each graphics control block (0x21 0xF9).
    let controlBlocks = (0..<(bytes.count - 1)).filter { bytes[$0] == 0x21 && bytes[$0 + 1] == 0xF9 }.count
    #expect(controlBlocks == 3)
    let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
    #expect(((attributes[.posixPermissions] as? Int) ?? 0) & 0o044 != 0, "the preview must be readable by others")
  }
}
