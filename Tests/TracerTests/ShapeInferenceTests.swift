import Testing
@testable import Tracer

@Suite struct ShapeInferenceTests {
  @Test func matmulBroadcastsBatchDimensions() throws {
    let (shape, dtype) = try ShapeInference.infer(.matmul, operands: [([2, 1, 5, 3], .f32), ([4, 3, 7], .f32)])
    #expect(shape == [2, 4, 5, 7])
    #expect(dtype == .f32)
  }

  @Test func mismatchedInnerDimensionIsRefused() {
    #expect(throws: ShapeError.self) { try ShapeInference.infer(.matmul, operands: [([5, 3], .f32), ([4, 7], .f32)]) }
  }
}
