/// What the OpenBLAS the eager-BLAS baseline loads says about itself: reports print it beside its
/// numbers. Reading it loads the library (once per process, see `OpenBLASLibrary`).
public enum OpenBLASInfo {
  /// Build configuration, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64`.
  public static var configuration: String {
    get throws(RuntimeError) { try OpenBLASLibrary.shared().configuration }
  }
  /// The core type OpenBLAS's kernels run with (`OPENBLAS_CORETYPE` chooses it at load time).
  public static var coreType: String {
    get throws(RuntimeError) { try OpenBLASLibrary.shared().coreName }
  }
  /// The core type and who chose it, in one line.
  public static var summary: String {
    get throws(RuntimeError) { try OpenBLASLibrary.shared().summary }
  }
}
