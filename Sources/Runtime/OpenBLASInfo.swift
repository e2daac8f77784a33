import COpenBLAS

/// What the linked OpenBLAS says about itself: the eager-BLAS baseline reports it beside its numbers.
public enum OpenBLASInfo {
  /// Build configuration, e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64`.
  public static var configuration: String { String(cString: openblas_get_config()) }
  /// The core type OpenBLAS chose for its kernels (`OPENBLAS_CORETYPE` overrides it at load time).
  public static var coreType: String { String(cString: openblas_get_corename()) }
}
