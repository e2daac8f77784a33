import Foundation
import Generation
import Models

extension BenchEnvironment {
  /// Runs a suite's generation entry through Generation's pipelines (the same ones
  /// `kiln generate` uses), writing its image or frames into a scratch folder that is removed after.
  public static func pipelineGeneration(_ request: GenerationRequest) throws -> GenerationFigures {
    let run = request.run
    let (family, config) = try ModelRegistry.resolve(run.model, config: run.config)
    guard let executor = ExecutionOptions.ExecutorKind(rawValue: run.executor.rawValue) else {
      throw BenchError.caseFailed("generation '\(run.label)'", "executor \(run.executor.rawValue) cannot generate")
    }
    let options = ExecutionOptions(executor: executor, threads: request.threads, profile: request.profile.name)
    let common = GenerationCommon(model: "\(family.name)-\(config)", overrides: run.overrides, steps: run.steps, seed: run.seed)
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bench-generation-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }

    let sampler = try run.sampler.map { name -> DiTPipeline.Sampler in
      guard let sampler = DiTPipeline.Sampler(rawValue: name) else {
        throw BenchError.caseFailed("generation '\(run.label)'", "the sampler is ddim or ddpm, not '\(name)'")
      }
      return sampler
    } ?? .ddim
    // ImageNet's golden retriever (207), as `kiln generate`, when the model has that many classes.
    let settings = Dictionary(uniqueKeysWithValues: (family.settings(of: config) ?? []).map { ($0.key, $0.value) })
    let classes = Int(run.overrides["classes"] ?? settings["classes"] ?? "") ?? 1000
    let output = scratch.appendingPathComponent(family.name == "video-dit" ? "video" : "image.png")
    let summary = try AnyPipeline.generate(
      common, settings: AnyPipeline.Settings(classLabel: classes > 207 ? 207 : 0, guidance: run.guidance.map(Float.init),
                                             sampler: sampler),
      options: options, to: output)
    return GenerationFigures(
      steps: summary.steps, secondsPerStep: summary.secondsPerStep, denoiseSeconds: summary.denoiseSeconds,
      vaeSeconds: summary.vaeSeconds, setupSeconds: summary.setupSeconds, totalSeconds: summary.totalSeconds, gflops: summary.gflops,
      imagesPerMinute: summary.frames > 0 ? nil : summary.imagesPerMinute,
      framesPerMinute: summary.frames > 0 ? summary.framesPerMinute : nil)
  }
}
