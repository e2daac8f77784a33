/// What the loop renderer needs to know about a `LoopKernel` before writing a line: the rows
/// (outer axes, merged where every stride allows), the innermost extent and strides, which steps
/// are constant along a row, which steps are live, and which stores happen once per row.
struct LoopNestAnalysis {
  /// One outer axis after merging: its extent and the stride of every operand and every store.
  struct OuterAxis {
    var extent: Int
    var operandStrides: [Int]
    var storeStrides: [Int]
  }

  let kernel: LoopKernel
  /// Outer axes (all but the innermost), size-1 axes dropped, adjacent axes merged when dense for everyone.
  let outerAxes: [OuterAxis]
  let rows: Int
  /// Extent of the innermost axis (1 for a rank-0 space).
  let innerExtent: Int
  let operandInnerStrides: [Int]
  let storeInnerStrides: [Int]
  /// Steps whose value is the same all along a row: constants, loads with innermost stride 0,
  /// reductions, and anything computed from those only. They are computed once per row.
  let rowInvariant: [Bool]
  /// Steps that depend on a reduction (directly or not).
  let dependsOnReduction: [Bool]
  /// Steps some store needs.
  let live: [Bool]

  init(_ kernel: LoopKernel) {
    self.kernel = kernel
    let rank = kernel.shape.count
    innerExtent = kernel.shape.last ?? 1
    operandInnerStrides = kernel.operandStrides.map { rank == 0 ? 0 : ($0.last ?? 0) }
    storeInnerStrides = kernel.stores.map { rank == 0 ? 0 : ($0.strides.last ?? 0) }
    outerAxes = Self.mergedOuterAxes(kernel)
    rows = outerAxes.reduce(1) { $0 * $1.extent }

    var rowInvariant: [Bool] = []
    var dependsOnReduction: [Bool] = []
    for step in kernel.steps {
      switch step {
      case .load(let operand):
        rowInvariant.append(operandInnerStrides[operand] == 0)
        dependsOnReduction.append(false)
      case .constant:
        rowInvariant.append(true)
        dependsOnReduction.append(false)
      case .unary(_, let a):
        rowInvariant.append(rowInvariant[a])
        dependsOnReduction.append(dependsOnReduction[a])
      case .binary(_, let a, let b):
        rowInvariant.append(rowInvariant[a] && rowInvariant[b])
        dependsOnReduction.append(dependsOnReduction[a] || dependsOnReduction[b])
      case .reduce:
        rowInvariant.append(true)
        dependsOnReduction.append(true)
      }
    }
    self.rowInvariant = rowInvariant
    self.dependsOnReduction = dependsOnReduction

    var live = [Bool](repeating: false, count: kernel.steps.count)
    for store in kernel.stores { live[store.step] = true }
    for index in kernel.steps.indices.reversed() where live[index] {
      for operand in Self.operands(of: kernel.steps[index]) { live[operand] = true }
    }
    self.live = live
  }

  static func operands(of step: LoopStep) -> [Int] {
    switch step {
    case .load, .constant: return []
    case .unary(_, let a), .reduce(_, let a): return [a]
    case .binary(_, let a, let b): return [a, b]
    }
  }

  /// A store writes once per row (ignoring its innermost stride) when its value is a per-row
  /// result (computed from a reduction), or when it is constant along the row and the store does
  /// not move along the row either. Anything else is written element by element.
  func storesOncePerRow(_ storeIndex: Int) -> Bool {
    let step = kernel.stores[storeIndex].step
    guard rowInvariant[step] else { return false }
    return dependsOnReduction[step] || storeInnerStrides[storeIndex] == 0
  }

  /// The live reductions, in SSA order, which is a dependency order.
  var reductions: [Int] {
    kernel.steps.indices.filter { index in
      if case .reduce = kernel.steps[index] { return live[index] }
      return false
    }
  }

  /// The steps a pass recomputes at each element to obtain `roots`: every element-varying step
  /// they depend on, in SSA order, stopping at row-invariant steps (available as row values).
  func elementSteps(reaching roots: [Int]) -> [Int] {
    var needed = Set<Int>()
    var pending = roots.filter { !rowInvariant[$0] }
    while let step = pending.popLast() {
      guard needed.insert(step).inserted else { continue }
      pending += Self.operands(of: kernel.steps[step]).filter { !rowInvariant[$0] }
    }
    return needed.sorted()
  }

  /// Row-invariant steps used (directly) by `steps`, in SSA order.
  func rowValues(usedBy steps: [Int], plus extra: [Int] = []) -> [Int] {
    var used = Set(extra.filter { rowInvariant[$0] })
    for step in steps {
      for operand in Self.operands(of: kernel.steps[step]) where rowInvariant[operand] { used.insert(operand) }
    }
    return used.sorted()
  }

  private static func mergedOuterAxes(_ kernel: LoopKernel) -> [OuterAxis] {
    guard kernel.shape.count > 1 else { return [] }
    var axes: [OuterAxis] = []
    for axis in 0..<(kernel.shape.count - 1) where kernel.shape[axis] != 1 {
      let next = OuterAxis(
        extent: kernel.shape[axis],
        operandStrides: kernel.operandStrides.map { $0[axis] },
        storeStrides: kernel.stores.map { $0.strides[axis] })
      // Axis a merges into the previous one p when, for every operand and store, stride(p) = stride(a) · extent(a).
      if let previous = axes.last,
        zip(previous.operandStrides, next.operandStrides).allSatisfy({ $0 == $1 * next.extent }),
        zip(previous.storeStrides, next.storeStrides).allSatisfy({ $0 == $1 * next.extent })
      {
        axes[axes.count - 1] = OuterAxis(
          extent: previous.extent * next.extent, operandStrides: next.operandStrides, storeStrides: next.storeStrides)
      } else {
        axes.append(next)
      }
    }
    return axes
  }
}
