/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, seedable generator. The one source of
/// seeded bits in Kiln (seeded weights, a generation's starting noise, the report's bootstrap, the
/// tests' random inputs), so a sequence depends on its seed alone, on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  /// The seed it started from, for a message that lets a run be replayed.
  public let seed: UInt64
  private var state: UInt64

  public init(seed: UInt64) {
    self.seed = seed
    self.state = seed
  }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
