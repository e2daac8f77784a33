import Foundation
import Testing

extension CLITests {
  @Test func generateWritesThePNGAndSaysTheWeightsAreSeeded() throws {
    let folder = try temporaryFile("unused", contents: "").deletingLastPathComponent()
    let image = folder.appendingPathComponent("dit.png")
    let result = try kiln("generate", "dit-tiny", "--class", "1", "--steps", "2", "--vae-config", "tiny", "-o", image.path)
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("seeded weights"))
    #expect(result.stdout.contains("s/step") && result.stdout.contains(image.path))
    let bytes = try Data(contentsOf: image)
    #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
  }

  @Test func generateJSONHasTheSummaryKeys() throws {
    let folder = try temporaryFile("unused", contents: "").deletingLastPathComponent()
    let result = try kiln("generate", "dit-tiny", "--class", "2", "--steps", "2", "--vae-config", "tiny", "--sampler", "ddpm",
                          "--json", "-o", folder.appendingPathComponent("x.png").path)
    #expect(result.status == 0, "\(result.stderr)")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    for key in ["steps", "secondsPerStep", "denoiseSeconds", "vaeSeconds", "totalSeconds", "gflops", "imagesPerMinute", "files"] {
      #expect(object[key] != nil, "missing \(key)")
    }
    #expect(object["sampler"] as? String == "ddpm")
  }

  @Test func generateRefusesAClassOutsideTheModelInOneLine() throws {
    let result = try kiln("generate", "dit-tiny", "--class", "10", "--steps", "1", "--vae-config", "tiny", "-o", "/tmp/never.png")
    #expect(result.status != 0)
    #expect(result.stderr.contains("--class must be in 0...9"))
    #expect(!FileManager.default.fileExists(atPath: "/tmp/never.png"))
  }
}
