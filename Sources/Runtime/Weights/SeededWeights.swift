import Tracer

/// Deterministic weights for running a model without a checkpoint: every param drawn from a seed,
/// with a spread chosen from how the graph uses it, so activations stay in a realistic range
/// through any depth (and adaLN-Zero gates are not zero, as a trained model's are not).
///
/// The role of a param is read from data flow only, following it through shape ops to its first
/// computing user: a matmul operand is a linear weight, a conv2d's second operand a filter, a
/// gather's table an embedding, and a vector that is multiplied or added a scale or a shift.
public enum SeededWeights {
  /// What a param does, as its first computing user says.
  public enum Role: Sendable, Equatable {
    /// Multiplied in a matmul contracting `fanIn` elements: N(0, 1/fanIn).
    case linear(fanIn: Int)
    /// A conv2d filter over `fanIn` = C/groups·kh·kw inputs: N(0, 1/fanIn).
    case convolution(fanIn: Int)
    /// A gather table: N(0, 1), like a trained embedding's rows.
    case embedding
    /// A vector that multiplies (norm scales): 1 + N(0, 0.02²).
    case scale
    /// A vector that is added (biases, shifts): N(0, 0.02²).
    case shift
    /// Anything else: N(0, 0.02²).
    case other
  }

  /// The spread of the small draws (biases, scale noise, everything unrecognized).
  public static let smallStandardDeviation: Float = 0.02

  /// The role of every distinct param of `graph`, by name (the first use decides).
  public static func roles(in graph: Graph) -> [String: Role] {
    let users = graph.users()
    var roles: [String: Role] = [:]
    for (name, id) in graph.params where roles[name] == nil {
      roles[name] = role(of: id, in: graph, users: users)
    }
    return roles
  }

  /// Weights for every param of `graph`, a pure function of `seed` and each param's name and shape.
  public static func initialize(for graph: Graph, seed: UInt64) throws(RuntimeError) -> [String: RuntimeTensor] {
    let roles = roles(in: graph)
    var weights: [String: RuntimeTensor] = [:]
    for requirement in try WeightRequirement.all(of: graph) {
      let role = roles[requirement.name] ?? .other
      weights[requirement.name] = try tensor(for: requirement, role: role, seed: seed)
    }
    return weights
  }

  static func tensor(for requirement: WeightRequirement, role: Role, seed: UInt64) throws(RuntimeError) -> RuntimeTensor {
    let count = requirement.shape.elementCount
    guard requirement.dtype.isFloatingPoint else {
      // An integer param can only be an index list; row 0 is valid in any table.
      return try RuntimeTensor(shape: requirement.shape, storage: .i32([Int32](repeating: 0, count: count)))
    }
    var generator = SeededGenerator(seed: seed, name: requirement.name)
    let (center, deviation) = distribution(of: role)
    // A uniform draw on [-√3σ, √3σ] has standard deviation σ: bounded, and cheap to draw exactly.
    let halfWidth = Float(3).squareRoot() * deviation
    var values = [Float]()
    values.reserveCapacity(count)
    for _ in 0..<count { values.append(center + halfWidth * generator.nextSignedUnit()) }
    return try RuntimeTensor(shape: requirement.shape, storage: .f32(values))
  }

  /// Mean and standard deviation for a role.
  static func distribution(of role: Role) -> (mean: Float, deviation: Float) {
    switch role {
    case .linear(let fanIn), .convolution(let fanIn): return (0, 1 / Float(max(fanIn, 1)).squareRoot())
    case .embedding: return (0, 1)
    case .scale: return (1, smallStandardDeviation)
    case .shift, .other: return (0, smallStandardDeviation)
    }
  }

  private static func role(of param: Int, in graph: Graph, users: [[Int]]) -> Role {
    guard let (user, operand) = firstComputingUser(of: param, in: graph, users: users) else { return .other }
    let node = graph[user]
    let isVector = graph[param].shape.dims.filter { $0 != 1 }.count <= 1
    switch node.op {
    case .matmul:
      let lhs = graph[node.operands[0]].shape
      return .linear(fanIn: lhs.dims.last ?? 1)
    case .conv2d where node.operands.count > 1 && node.operands[1] == operand:
      return .convolution(fanIn: graph[operand].shape.dims.dropFirst().reduce(1, *))
    case .gather where node.operands.first == operand:
      return .embedding
    case .binary(.mul) where isVector:
      return .scale
    case .binary(.add), .binary(.sub):
      return isVector ? .shift : .other
    default:
      return .other
    }
  }

  /// The first node (in graph order) that computes with `param`'s values, looking through the
  /// shape ops that only move them; with the operand id it reads them through.
  private static func firstComputingUser(of param: Int, in graph: Graph, users: [[Int]]) -> (user: Int, operand: Int)? {
    var frontier = [param]
    var best: (user: Int, operand: Int)?
    while let value = frontier.popLast() {
      for user in users[value] {
        if graph[user].op.isShapeOp {
          frontier.append(user)
        } else if best.map({ user < $0.user }) ?? true {
          best = (user, value)
        }
      }
    }
    return best
  }
}

/// SplitMix64 (Steele, Lea & Flood 2014) seeded from the run's seed and a param's name, so each
/// param's values depend on nothing else: adding a param to a model leaves the others unchanged.
struct SeededGenerator {
  private var bits: SplitMix64

  init(seed: UInt64, name: String) {
    // FNV-1a of the name: stable across runs and platforms, unlike Hasher.
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in name.utf8 {
      hash ^= UInt64(byte)
      hash &*= 0x0000_0100_0000_01B3
    }
    bits = SplitMix64(seed: seed ^ hash)
  }

  mutating func next() -> UInt64 { bits.next() }

  /// Uniform on [-1, 1), from the top 24 bits (exactly representable in f32).
  mutating func nextSignedUnit() -> Float {
    Float(next() >> 40) / Float(1 << 23) - 1
  }
}
