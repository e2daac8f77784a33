/// Element type of a tensor. Kiln computes in f32 first; indices (class labels, token ids) are i32.
public enum DType: String, CaseIterable, Hashable, Sendable, Codable {
  case f32, f16, bf16, i32

  public var byteSize: Int {
    switch self {
    case .f32, .i32: return 4
    case .f16, .bf16: return 2
    }
  }

  public var isFloatingPoint: Bool { self != .i32 }
}
