import Foundation
import Models
import Runtime
import Testing
import Tracer

@Suite struct SeededInputsTests {
  @Test func classLabelsAreDrawnWithinTheEmbeddingTableAndTheTimestepIsTheOneGiven() throws {
    let graph = try ModelRegistry.resolve("dit-tiny").family.trace(config: "tiny", overrides: ["batch": "64"])
    let inputs = try SeededInputs.make(for: graph, seed: 3, timestep: 500)
    let labels = try #require(inputs["class_label"])
    guard case .i32(let values) = labels.storage else {
      Issue.record("class labels are \(labels.dtype)")
      return
    }
    let tableRows = try #require(graph.params.first { $0.name.contains("class_embedder") || $0.name.contains("y_embedder") }.map { graph[$0.node].shape[0] })
    #expect(values.allSatisfy { $0 >= 0 && Int($0) < tableRows })
    #expect(Set(values).count > 1, "labels are drawn, not constant")
    #expect(try #require(inputs["timestep"]).floats.allSatisfy { $0 == 500 })
  }

  @Test func latentsAreStandardNormalAndDeterministicInTheSeed() throws {
    let graph = try ModelRegistry.resolve("dit-tiny").family.trace(config: "tiny", overrides: [:])
    let first = try SeededInputs.make(for: graph, seed: 7, timestep: 500)
    #expect(try SeededInputs.make(for: graph, seed: 7, timestep: 500) == first)
    #expect(try SeededInputs.make(for: graph, seed: 8, timestep: 500)["latent"] != first["latent"])
    let latent = try #require(first["latent"]).floats.map(Double.init)
    let mean = latent.reduce(0, +) / Double(latent.count)
    let variance = latent.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(latent.count)
    #expect(abs(mean) < 0.2, "mean \(mean) over \(latent.count) draws")
    #expect(abs(variance - 1) < 0.25, "variance \(variance) over \(latent.count) draws")
  }

  @Test func textConditioningIsSmall() throws {
    let graph = try ModelRegistry.resolve("mmdit-tiny").family.trace(config: "tiny", overrides: [:])
    let inputs = try SeededInputs.make(for: graph, seed: 1, timestep: 0.5)
    let text = try #require(inputs["encoder_hidden_states"]).floats
    #expect(text.map { abs($0) }.max() ?? 0 < 1)
    #expect(try #require(inputs["timestep"]).floats.allSatisfy { $0 == 0.5 })
  }
}

@Suite struct OutputComparisonTests {
  @Test func relativeErrorIsTheNormOfTheDifferenceOverTheNormOfTheReference() throws {
    let reference = ["y": try RuntimeTensor(shape: [2], floats: [3, 4])]
    let output = ["y": try RuntimeTensor(shape: [2], floats: [3, 4.5])]
    #expect(abs(try OutputComparison.relativeError(output, reference: reference) - 0.1) < 1e-12)
    #expect(try OutputComparison.relativeError(reference, reference: reference) == 0)
  }

  @Test func outputsOfDifferentShapesAreRefused() throws {
    let reference = ["y": try RuntimeTensor(shape: [2], floats: [3, 4])]
    let output = ["y": try RuntimeTensor(shape: [2, 1], floats: [3, 4])]
    #expect(throws: RuntimeError.self) { try OutputComparison.relativeError(output, reference: reference) }
  }
}
