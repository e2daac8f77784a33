import Foundation
import Runtime
import Testing
import Tracer

@Suite struct WeightLoaderTests {
  private func floats(_ shape: Shape, start: Float = 0) throws -> RuntimeTensor {
    try RuntimeTensor(shape: shape, floats: (0..<shape.elementCount).map { start + Float($0) })
  }

  @Test func wrongShapeIsRefusedNamingTheTensorAndBothShapes() throws {
    let folder = try ScratchFolder()
    let url = folder.file("model.safetensors")
    let name = "transformer_blocks.3.attn1.to_q.weight"
    try writeSafetensors([(name, try floats([384, 383]))], to: url)
    let message = runtimeErrorMessage { () throws(RuntimeError) in
      try WeightLoader.load([WeightRequirement(name: name, shape: [384, 384], dtype: .f32)], from: [url])
    }
    #expect(message == "weights: tensor '\(name)' in model.safetensors has shape [384, 383], the model needs [384, 384]")
  }

  @Test func missingTensorIsRefusedNamingItAndItsShape() throws {
    let folder = try ScratchFolder()
    let url = folder.file("model.safetensors")
    try writeSafetensors([("a.weight", try floats([2]))], to: url)
    let requirements = [WeightRequirement(name: "a.weight", shape: [2], dtype: .f32),
                        WeightRequirement(name: "b.weight", shape: [3, 2], dtype: .f32)]
    let message = runtimeErrorMessage { () throws(RuntimeError) in try WeightLoader.load(requirements, from: [url]) }
    #expect(message == "weights: model.safetensors has no tensor 'b.weight', which the model needs with shape [3, 2]")
  }

  @Test func integerTensorForAFloatParamIsRefused() throws {
    let folder = try ScratchFolder()
    let url = folder.file("model.safetensors")
    try writeSafetensors([("w", try RuntimeTensor(shape: [2], storage: .i32([1, 2])))], to: url)
    let message = runtimeErrorMessage { () throws(RuntimeError) in
      try WeightLoader.load([WeightRequirement(name: "w", shape: [2], dtype: .f32)], from: [url])
    }
    #expect(message == "weights: tensor 'w' in model.safetensors is I32, the model needs f32")
  }

  @Test func extraTensorsAreIgnoredAndCountedByGroup() throws {
    let folder = try ScratchFolder()
    let url = folder.file("model.safetensors")
    try writeSafetensors([
      ("decoder.conv.weight", try floats([2, 2])),
      ("encoder.conv.weight", try floats([2])), ("encoder.norm.bias", try floats([2])), ("quant_conv.bias", try floats([1])),
      ("blocks.1.emb.linear.weight", try floats([1])), ("blocks.2.emb.linear.weight", try floats([1])),
    ], to: url)
    let loaded = try WeightLoader.load([WeightRequirement(name: "decoder.conv.weight", shape: [2, 2], dtype: .f32)], from: [url])
    #expect(loaded.tensors == ["decoder.conv.weight": try floats([2, 2])])
    #expect(loaded.ignored.count == 5)
    #expect(loaded.ignoredSummary == "ignored 5 tensors (blocks.*.emb.*: 2, encoder.*: 2, quant_conv.*: 1)")
  }

  @Test func aliasIsUsedWhenTheParamsOwnNameIsAbsent() throws {
    let folder = try ScratchFolder()
    let url = folder.file("model.safetensors")
    try writeSafetensors([("attn.query.weight", try floats([2, 2], start: 5))], to: url)
    let loaded = try WeightLoader.load([WeightRequirement(name: "attn.to_q.weight", shape: [2, 2], dtype: .f32)], from: [url],
                                       aliases: ["attn.to_q.weight": ["attn.query.weight"]])
    #expect(loaded.tensors["attn.to_q.weight"] == (try floats([2, 2], start: 5)))
    #expect(loaded.ignored.isEmpty)
    #expect(loaded.ignoredSummary == nil)
  }

  @Test func shardedFolderLoadsEveryShardListedByItsIndex() throws {
    let folder = try ScratchFolder()
    try writeSafetensors([("a", try floats([2]))], to: folder.file("diffusion_pytorch_model-00001-of-00002.safetensors"))
    try writeSafetensors([("b", try floats([3], start: 1))], to: folder.file("diffusion_pytorch_model-00002-of-00002.safetensors"))
    let index = #"{"metadata": {"total_size": 20}, "weight_map": {"a": "diffusion_pytorch_model-00001-of-00002.safetensors", "b": "diffusion_pytorch_model-00002-of-00002.safetensors"}}"#
    try Data(index.utf8).write(to: folder.file(DiffusersFolder.indexName))
    let requirements = [WeightRequirement(name: "a", shape: [2], dtype: .f32), WeightRequirement(name: "b", shape: [3], dtype: .f32)]
    let loaded = try WeightLoader.load(requirements, from: try DiffusersFolder.weightFiles(at: folder.url))
    #expect(loaded.tensors["a"] == (try floats([2])))
    #expect(loaded.tensors["b"] == (try floats([3], start: 1)))
  }

  @Test func tensorInTwoShardsIsRefused() throws {
    let folder = try ScratchFolder()
    try writeSafetensors([("a", try floats([2]))], to: folder.file("one.safetensors"))
    try writeSafetensors([("a", try floats([2]))], to: folder.file("two.safetensors"))
    let message = runtimeErrorMessage { () throws(RuntimeError) in
      try WeightLoader.load([WeightRequirement(name: "a", shape: [2], dtype: .f32)],
                            from: [folder.file("one.safetensors"), folder.file("two.safetensors")])
    }
    #expect(message == "weights: tensor 'a' is in both one.safetensors and two.safetensors")
  }

  @Test func shardIndexNamingAFileOutsideTheFolderIsRefused() throws {
    let folder = try ScratchFolder()
    let index = #"{"weight_map": {"a": "../elsewhere.safetensors"}}"#
    try Data(index.utf8).write(to: folder.file(DiffusersFolder.indexName))
    let message = runtimeErrorMessage { () throws(RuntimeError) in try DiffusersFolder.weightFiles(at: folder.url) }
    #expect(message == "weights: \(DiffusersFolder.indexName): 'weight_map' names '../elsewhere.safetensors', not a .safetensors file inside the folder")
  }

  @Test func folderWithoutSafetensorsIsRefused() throws {
    let folder = try ScratchFolder()
    try Data("{}".utf8).write(to: folder.file("config.json"))
    let message = runtimeErrorMessage { () throws(RuntimeError) in try DiffusersFolder.weightFiles(at: folder.url) }
    #expect(message == "weights: \(folder.url.path) has neither \(DiffusersFolder.weightsName) nor \(DiffusersFolder.indexName)")
  }
}
