import Foundation

/// The C kernel templates shipped with Codegen: `common/` (ABI, GEMM macro-kernel, attention,
/// normalization, convolution) and one folder per profile (`vector.h`, `microkernel.h`).
public enum KernelTemplates {
  /// The folder holding `common/` and the profile folders, or nil when the resource bundle is missing.
  public static var directory: URL? {
    Bundle.module.url(forResource: "Templates", withExtension: nil)
  }
}
