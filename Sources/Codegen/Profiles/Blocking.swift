/// Cache blocking derived from the caches, the BLIS way (Low, Igual, Smith, Quintana-Ortí,
/// "Analytical modeling is enough for high-performance BLIS", TOMS 2016).
///
/// The GEMM loops around the micro-kernel are, outermost first: NC columns of B (a packed
/// KC×NC panel shared by all cores, resident in L3), KC of the shared dimension, MC rows of A
/// (a packed MC×KC block per core, resident in L2), NR, MR. Inside the MR loop the KC×NR
/// micro-panel of B is reused by every MR×KC micro-panel of A, so it must stay in L1 while the A
/// micro-panels stream through beside it.
///
/// The paper sizes these with the caches' associativity; Kiln uses capacity shares that give the
/// same answers on common parts (KC = 256 for 6×16 in a 32 KiB L1, as BLIS ships for Haswell)
/// and need only the sizes the kernel reports:
/// - KC: the B micro-panel takes at most half of L1, and the A and B micro-panels together at
///   most three quarters (the rest holds the C tile and lines in flight); a multiple of 8 so the
///   micro-kernel's unrolled k loop has no remainder inside a full block.
/// - MC: the packed MC×KC block of A fills at most half of L2 (B micro-panels and C pass
///   through L2 too); a multiple of MR.
/// - NC: the packed KC×NC panel of B fills at most half of L3; a multiple of NR. Without an L3
///   the panel is sized against half of L2 instead.
public enum BlockingModel {
  static let bytesPerElement = 4
  static let kcGranule = 8

  public static func blocking(caches: HardwareProfile.Caches, microKernel: HardwareProfile.MicroKernel) -> HardwareProfile.Blocking {
    let kc = sharedDimension(l1d: caches.l1d, microKernel: microKernel)
    let mc = rowsOfA(l2: caches.l2, kc: kc, mr: microKernel.mr)
    let panelCache = caches.l3 > 0 ? caches.l3 : caches.l2
    let nc = columnsOfB(l3: panelCache, kc: kc, nr: microKernel.nr)
    return HardwareProfile.Blocking(kc: kc, mc: mc, nc: nc)
  }

  static func sharedDimension(l1d: Int, microKernel: HardwareProfile.MicroKernel) -> Int {
    let bPanelLimit = (l1d / 2) / (microKernel.nr * bytesPerElement)
    let bothPanelsLimit = (l1d * 3 / 4) / ((microKernel.mr + microKernel.nr) * bytesPerElement)
    return roundDown(min(bPanelLimit, bothPanelsLimit), to: kcGranule)
  }

  static func rowsOfA(l2: Int, kc: Int, mr: Int) -> Int {
    roundDown((l2 / 2) / (kc * bytesPerElement), to: mr)
  }

  static func columnsOfB(l3: Int, kc: Int, nr: Int) -> Int {
    roundDown((l3 / 2) / (kc * bytesPerElement), to: nr)
  }

  /// The largest multiple of `granule` not above `value`, and never below one granule: a cache
  /// too small for one granule still gets a working (if spilling) block.
  static func roundDown(_ value: Int, to granule: Int) -> Int {
    max(granule, value / granule * granule)
  }
}
