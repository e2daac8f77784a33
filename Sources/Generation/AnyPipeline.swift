import Foundation
import Models

/// Chooses the pipeline of a model's family, so `kiln generate` and the bench run generations
/// the same way.
public enum AnyPipeline {
  /// What the families need beyond `GenerationCommon`; each takes the fields that apply to it.
  public struct Settings: Sendable {
    /// dit: the class to generate.
    public var classLabel: Int
    /// dit: the guidance scale; mmdit: the embedded guidance value. nil: the family's default.
    public var guidance: Float?
    public var sampler: DiTPipeline.Sampler
    /// mmdit, video-dit: text embeddings from a file, or seeded.
    public var text: TextConditioning
    /// mmdit: a fixed σ shift; video-dit: Wan's shift (default 5).
    public var shift: Double?
    /// video-dit: the number of frames; nil keeps the config's.
    public var frames: Int?

    public init(classLabel: Int = 207, guidance: Float? = nil, sampler: DiTPipeline.Sampler = .ddim,
                text: TextConditioning = .seeded, shift: Double? = nil, frames: Int? = nil) {
      self.classLabel = classLabel
      self.guidance = guidance
      self.sampler = sampler
      self.text = text
      self.shift = shift
      self.frames = frames
    }
  }

  /// Generates into `output` (an image file for dit and mmdit, a folder for video-dit).
  public static func generate(_ common: GenerationCommon, settings: Settings, options: ExecutionOptions, to output: URL,
                              progress: (any GenerationProgress)? = nil) throws -> GenerationSummary {
    let family = try ModelRegistry.resolve(common.model).family.name
    guard ["dit", "mmdit", "video-dit"].contains(family) else {
      throw GenerationError.invalidRequest("generation runs dit, mmdit and video-dit models; \(common.model) is a \(family) model")
    }
    progress?.began("preparing \(common.model): tracing, weights, compiling the denoiser and the VAE")
    switch family {
    case "dit":
      return try DiTPipeline(common, classLabel: settings.classLabel, guidanceScale: settings.guidance ?? 4,
                             sampler: settings.sampler, options: options).generate(to: output, progress: progress)
    case "mmdit":
      return try MMDiTPipeline(common, text: settings.text, guidance: settings.guidance ?? 3.5, fixedShift: settings.shift,
                               options: options).generate(to: output, progress: progress)
    case "video-dit":
      return try VideoPipeline(common, frames: settings.frames, text: settings.text, shift: settings.shift ?? 5,
                               options: options).generate(to: output, progress: progress)
    default:
      throw GenerationError.invalidRequest("no pipeline for the \(family) family")
    }
  }

  /// Where a generation writes when no output is named: an image file, or a folder for video.
  public static func defaultOutput(for model: String) throws -> URL {
    try ModelRegistry.resolve(model).family.name == "video-dit"
      ? URL(fileURLWithPath: "out-video", isDirectory: true) : URL(fileURLWithPath: "out.png")
  }
}
