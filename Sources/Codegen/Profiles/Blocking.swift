/// Cache blocking derived from the caches, the BLIS way (Low, Igual, Smith, Quintana-Ortí,
/// "Analytical modeling is enough for high-performance BLIS", TOMS 2016), adjusted where Kiln's
/// GEMMs differ from BLIS's and where measurement disagreed with the model.
///
/// The GEMM loops around the micro-kernel are, outermost first: NC columns of B, KC of the shared
/// dimension, MC rows of A (a packed MC×KC block per core, resident in L2), NR, MR. Inside the MR
/// loop the KC×NR micro-panel of B is reused by every MR×KC micro-panel of A, so it should stay in
/// L1 while the A micro-panels stream through beside it.
///
/// - KC: the paper's share (B micro-panel at most half of L1, A and B micro-panels together at
///   most three quarters), raised to at least 256 as long as the B micro-panel still fits L1.
///   Every micro-kernel call loads and stores its MR×NR C tile and drains its accumulators; a
///   k loop of 128 left 2–3 % of the 8×48 AVX-512 kernel's time there (Zen 5, DiT-XL/2 shapes,
///   PERFORMANCE.md). A multiple of 8 so the unrolled k loop has no remainder in a full block.
/// - MC: the packed MC×KC block of A fills at most half of L2; a multiple of MR.
/// - NC: the KC×NC block of packed B fits L2. BLIS sizes NC against L3 because its cores share
///   one packed B panel; Kiln's weights are packed once at load, so NC only decides how much of
///   C a thread revisits for every KC block: with NC = N (4608 columns) the C block of one
///   thread fell out of L2 and the GEMM lost 6 % (PERFORMANCE.md). A multiple of NR.
public enum BlockingModel {
  static let bytesPerElement = 4
  static let kcGranule = 8
  /// The shortest k loop that amortizes a micro-kernel call's C tile traffic (see KC above).
  static let kcFloor = 256

  public static func blocking(caches: HardwareProfile.Caches, microKernel: HardwareProfile.MicroKernel) -> HardwareProfile.Blocking {
    let kc = sharedDimension(l1d: caches.l1d, microKernel: microKernel)
    let mc = rowsOfA(l2: caches.l2, kc: kc, mr: microKernel.mr)
    let nc = columnsOfB(l2: caches.l2, kc: kc, nr: microKernel.nr)
    return HardwareProfile.Blocking(kc: kc, mc: mc, nc: nc)
  }

  static func sharedDimension(l1d: Int, microKernel: HardwareProfile.MicroKernel) -> Int {
    let bPanelLimit = (l1d / 2) / (microKernel.nr * bytesPerElement)
    let bothPanelsLimit = (l1d * 3 / 4) / ((microKernel.mr + microKernel.nr) * bytesPerElement)
    let modelled = roundDown(min(bPanelLimit, bothPanelsLimit), to: kcGranule)
    let wholeL1Limit = roundDown(l1d / (microKernel.nr * bytesPerElement), to: kcGranule)
    return max(modelled, min(kcFloor, wholeL1Limit))
  }

  static func rowsOfA(l2: Int, kc: Int, mr: Int) -> Int {
    roundDown((l2 / 2) / (kc * bytesPerElement), to: mr)
  }

  static func columnsOfB(l2: Int, kc: Int, nr: Int) -> Int {
    roundDown(l2 / (kc * bytesPerElement), to: nr)
  }

  /// The largest multiple of `granule` not above `value`, and never below one granule: a cache
  /// too small for one granule still gets a working (if spilling) block.
  static func roundDown(_ value: Int, to granule: Int) -> Int {
    max(granule, value / granule * granule)
  }
}
