import Tracer

/// One way of running a traced graph. `compiled`, `naive` and `eager-blas` share this interface so
/// the bench and the generation loop can swap them and compare like with like.
public protocol Executor: AnyObject {
  /// `compiled`, `naive` or `eager-blas`.
  var name: String { get }
  /// Runs one forward pass: `inputs` by graph input name; returns every graph output by name.
  func run(_ inputs: [String: RuntimeTensor]) throws -> [String: RuntimeTensor]
}
