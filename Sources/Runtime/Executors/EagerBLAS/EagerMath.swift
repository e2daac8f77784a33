/// exp, tanh and sigmoid in f32 written without calls or branches, so the loops over them
/// vectorize, as a framework's vectorized math library (Sleef in PyTorch) does; a per-element
/// call into libm would make these ops the slowest of a DiT forward. Cephes's single-precision
/// polynomials (Moshier), within two ulp of the exact value on the whole range (see EagerMathTests).
enum EagerMath {
  /// Below it exp underflows (results under the smallest normal flush to 0); above, it overflows.
  static let expLowest: Float = -87.336_54
  static let expHighest: Float = 88.722_83

  @inline(__always) static func exp(_ x: Float) -> Float {
    let clamped = Swift.min(Swift.max(x, expLowest), expHighest)
    // Adding 1.5·2²³ rounds x·log₂e to an integer n held in the low mantissa bits.
    let magic: Float = 12_582_912
    let shifted = clamped * 1.442_695_04 + magic
    let n = shifted - magic
    // Cody–Waite: r = x − n·ln2 in two parts, |r| ≤ ln2 / 2.
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_40e-4
    let r2 = r * r
    var p: Float = 1.987_569_150_0e-4
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let mantissa = p * r2 + r + 1
    // 2ⁿ in two halves so n = 128 (x near the top of the range) stays finite.
    let integer = Int32(bitPattern: shifted.bitPattern &- magic.bitPattern)
    let half = integer &>> 1
    let low = Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23))
    let high = Float(bitPattern: UInt32(bitPattern: (integer &- half &+ 127) &<< 23))
    let scaled = mantissa * low * high
    return x > expHighest ? .infinity : (x < expLowest ? 0 : scaled)
  }

  @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }

  /// An odd polynomial below |x| = 0.625, where 1 − 2/(e^{2|x|} + 1) would lose digits to cancellation.
  @inline(__always) static func tanh(_ x: Float) -> Float {
    let magnitude = Swift.abs(x)
    let z = x * x
    var p: Float = -5.704_988_727_45e-3
    p = p * z + 2.063_908_879_54e-2
    p = p * z - 5.373_971_555_31e-2
    p = p * z + 1.333_144_220_36e-1
    p = p * z - 3.333_328_194_22e-1
    let small = p * z * x + x
    let large = 1 - 2 / (exp(2 * magnitude) + 1)
    let signed = x < 0 ? -large : large
    return magnitude < 0.625 ? small : signed
  }
}
