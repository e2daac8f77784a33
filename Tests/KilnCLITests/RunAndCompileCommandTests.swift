import Foundation
import Testing

/// `kiln run` and `kiln compile` as a user runs them, on the tiny DiT.
extension CLITests {
  func jsonObject(_ result: Result) throws -> [String: Any] {
    #expect(result.status == 0, "\(result.stderr)")
    return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
  }

  @Test func runOnSeededWeightsSaysSoAndMatchesTheReference() throws {
    let result = try kiln("run", "dit-tiny", "--executor", "eager-blas", "--check", "--repeat", "2")
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("seeded weights"))
    #expect(result.stdout.contains("rel. error eager-blas vs reference"))
  }

  @Test func runJSONHasTheTimingAndTheRelativeErrors() throws {
    let object = try jsonObject(try kiln("run", "dit-tiny", "--executor", "all", "--check", "--json", "--repeat", "2"))
    let executors = try #require(object["executors"] as? [String: [String: Any]])
    for name in ["compiled", "naive", "eager-blas"] {
      let milliseconds = try #require(executors[name]?["ms"] as? Double, "\(name)")
      #expect(milliseconds > 0)
    }
    let errors = try #require(object["relError"] as? [String: Double])
    for pair in ["compiled~naive", "compiled~eager-blas", "naive~eager-blas", "compiled~reference", "naive~reference", "eager-blas~reference"] {
      let error = try #require(errors[pair], "\(pair)")
      #expect(error < 1e-4, "\(pair): \(error)")
    }
  }

  @Test func runWritesTheOutputsOfTheFirstExecutor() throws {
    let url = try temporaryFile("outputs.safetensors", contents: "")
    let result = try kiln("run", "dit-tiny", "--executor", "eager-blas", "--repeat", "1", "--outputs", url.path)
    #expect(result.status == 0, "\(result.stderr)")
    let bytes = try Data(contentsOf: url)
    #expect(bytes.count > 8)
    #expect(String(decoding: bytes, as: UTF8.self).contains("\"noise_pred\""))
  }

  @Test func runRefusesAnInputsFileWithoutTheModelsInputsNamingIt() throws {
    let url = try temporaryFile("outputs.safetensors", contents: "")
    #expect(try kiln("run", "dit-tiny", "--executor", "eager-blas", "--repeat", "1", "--outputs", url.path).status == 0)
    let result = try kiln("run", "dit-tiny", "--executor", "eager-blas", "--inputs", url.path)
    #expect(result.status != 0)
    #expect(result.stderr.contains("'latent'"), "\(result.stderr)")
  }

  @Test func compileJSONListsKernelsPatternsAndTheArenaAndWritesTheModuleFolder() throws {
    let folder = try temporaryFile("unused", contents: "").deletingLastPathComponent().appendingPathComponent("module")
    let object = try jsonObject(try kiln("compile", "dit-tiny", "--json", "-o", folder.path))
    let kernels = try #require(object["kernels"] as? [[String: Any]])
    #expect(!kernels.isEmpty)
    for kernel in kernels {
      for key in ["name", "template", "scopes", "flops", "bytes"] { #expect(kernel[key] != nil, "kernel misses \(key)") }
    }
    let patterns = try #require(object["patterns"] as? [String: Int])
    #expect((patterns["attention"] ?? 0) >= 1)
    #expect((object["arenaBytes"] as? Int ?? 0) > 0)
    #expect(object["compileSeconds"] is Double || object["compileSeconds"] is Int)
    #expect(object["cacheHit"] is Bool)
    for file in ["module.c", "program.json", "module.so"] {
      #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(file)")
    }
    let manifest = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("program.json"))) as? [String: Any])
    #expect(manifest["source"] == nil)
    #expect(manifest["kernels"] != nil)
  }
}

extension CLITests {
  /// Inputs saved by one run and fed to another give the same outputs, byte for byte.
  @Test func runInputsAndOutputsRoundTripThroughSafetensors() throws {
    let folder = try temporaryFile("unused", contents: "").deletingLastPathComponent()
    let (inputs, first, second) = ["in", "out1", "out2"].map { folder.appendingPathComponent("\($0).safetensors").path }
      .splat()
    let seeded = try kiln("run", "dit-tiny", "--save-inputs", inputs, "--outputs", first, "--repeat", "1")
    #expect(seeded.status == 0, "\(seeded.stderr)")
    let replayed = try kiln("run", "dit-tiny", "--inputs", inputs, "--outputs", second, "--repeat", "1")
    #expect(replayed.status == 0, "\(replayed.stderr)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: first)) == Data(contentsOf: URL(fileURLWithPath: second)))
  }
}

private extension Array {
  func splat() -> (Element, Element, Element) { (self[0], self[1], self[2]) }
}
