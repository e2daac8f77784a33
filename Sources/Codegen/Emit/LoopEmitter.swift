import Tracer

/// Renders the loop-kernel specifications of `LoopKernels.swift` as readable C functions for an
/// emitted module.
///
/// The text goes after the profile's template prelude (`TemplateLibrary.prelude(for:)`: the kv_*
/// vector primitives, `kiln_load_n`/`kiln_store_n`, `kiln_thread_range`) in a translation unit
/// that also includes `requiredHeaders` (<math.h> for the scalar functions, <stdint.h> for
/// int32_t). Generated signatures, one per specification:
///
///     LoopKernel        static void NAME(const float *in0, const int32_t *in1, …, float *out0, …,
///                                        int thread_id, int n_threads)
///                       (operand i is `const int32_t *` when operandTypes[i] is i32, else `const float *`)
///     MatmulLoopKernel  static void NAME(const float *a, const float *b, float *c, int thread_id, int n_threads)
///     Conv2DLoopKernel  static void NAME(const float *x, const float *w, float *y, int thread_id, int n_threads)
///     GatherKernel      static void NAME(const float *table, const int32_t *indices, float *out,
///                                        int thread_id, int n_threads)
///     UpsampleKernel    static void NAME(const float *x, float *y, int thread_id, int n_threads)
///
/// Every shape and stride is a literal, so each instance specializes. The body never mentions the
/// name: equal specifications render equal bodies, which lets the module emitter keep one
/// function per distinct body. Each call computes only its thread's contiguous share of rows (the
/// `kiln_thread_range` split), synchronizes with nothing, and calling every thread id once
/// computes the whole output.
///
/// A `LoopKernel` is rendered row by row (rows: every axis but the innermost). Inside a row there
/// is one pass over the innermost axis per reduction, in dependency order, recomputing from the
/// loads whatever elementwise steps the reduction reads; then one final pass computes and stores
/// the elementwise outputs. Values constant along a row (constants, broadcast loads, reductions
/// and what is computed from them only) are computed once per row. With `vectorize`, a pass whose
/// loads and stores all have innermost stride 1 runs on kv_* vectors of KILN_VLEN lanes (tails
/// through `kiln_load_n`/`kiln_store_n`); functions without a vector form (logf, sinf, cosf, powf)
/// and int32 loads go lane by lane through a small stack array. Other passes, and every pass
/// without `vectorize`, are plain scalar C.
public enum LoopEmitter {
  /// Headers the translation unit must include before the rendered functions.
  public static let requiredHeaders = ["<math.h>", "<stdint.h>"]

  public static func function(named name: String, _ kernel: LoopKernel) -> String {
    var renderer = LoopKernelRenderer(LoopNestAnalysis(kernel))
    return renderer.render(name: name)
  }
}

/// Writes one `LoopKernel` as C (see `LoopEmitter` for the shape of the result).
struct LoopKernelRenderer {
  let analysis: LoopNestAnalysis
  private var out = CWriter()

  init(_ analysis: LoopNestAnalysis) {
    self.analysis = analysis
  }

  private var kernel: LoopKernel { analysis.kernel }

  mutating func render(name: String) -> String {
    out.open("static void \(name)(\(parameters()))")
    out.line("int row_begin, row_end;")
    out.line("kiln_thread_range(\(analysis.rows), thread_id, n_threads, &row_begin, &row_end);")
    out.open("for (int row = row_begin; row < row_end; row++)")
    emitRowIndices()
    emitRowPointers()
    var available = Set<Int>()
    emitReadyRowValues(&available)
    for reduction in analysis.reductions {
      emitReductionPass(reduction)
      available.insert(reduction)
      emitReadyRowValues(&available)
    }
    emitFinalPass()
    for store in kernel.stores.indices where analysis.storesOncePerRow(store) {
      out.line("dst\(store)[0] = r\(kernel.stores[store].step);")
    }
    out.close()
    out.close()
    return out.text
  }

  private func parameters() -> String {
    let inputs = kernel.operandTypes.indices.map { "const \(isInteger($0) ? "int32_t" : "float") *in\($0)" }
    let outputs = (0..<kernel.outputCount).map { "float *out\($0)" }
    return (inputs + outputs + ["int thread_id", "int n_threads"]).joined(separator: ", ")
  }

  private func isInteger(_ operand: Int) -> Bool { kernel.operandTypes[operand] == .i32 }

  // MARK: Rows

  /// `i<a>`: the row's index along merged outer axis a.
  private mutating func emitRowIndices() {
    let axes = analysis.outerAxes
    for axis in axes.indices {
      let below = axes[(axis + 1)...].reduce(1) { $0 * $1.extent }
      var expression = below == 1 ? "row" : "row / \(below)"
      if axis > 0 { expression += " % \(axes[axis].extent)" }
      out.line("const ptrdiff_t i\(axis) = \(expression);")
    }
  }

  /// `src<i>` / `dst<s>`: operand i and store s at the start of the row.
  private mutating func emitRowPointers() {
    let axes = analysis.outerAxes
    let loaded = Set(kernel.steps.indices.compactMap { index -> Int? in
      guard analysis.live[index], case .load(let operand) = kernel.steps[index] else { return nil }
      return operand
    })
    for operand in loaded.sorted() {
      let terms = axes.indices.map { ("i\($0)", axes[$0].operandStrides[operand]) }
      let type = isInteger(operand) ? "int32_t" : "float"
      out.line("const \(type) *src\(operand) = \(CLiteral.offset("in\(operand)", terms));")
    }
    for (index, store) in kernel.stores.enumerated() {
      let terms = axes.indices.map { ("i\($0)", axes[$0].storeStrides[index]) }
      out.line("float *dst\(index) = \(CLiteral.offset("out\(store.output)", terms));")
    }
  }

  /// Computes, once per row, every live row-invariant step whose operands are now available.
  private mutating func emitReadyRowValues(_ available: inout Set<Int>) {
    for index in kernel.steps.indices where analysis.live[index] && analysis.rowInvariant[index] && !available.contains(index) {
      if case .reduce = kernel.steps[index] { continue }
      guard LoopNestAnalysis.operands(of: kernel.steps[index]).allSatisfy(available.contains) else { continue }
      out.line("const float r\(index) = \(scalarExpression(index, element: "0"));")
      available.insert(index)
    }
  }

  // MARK: Passes

  private mutating func emitReductionPass(_ reduction: Int) {
    guard case .reduce(let op, let source) = kernel.steps[reduction] else { return }
    let steps = analysis.elementSteps(reaching: [source])
    let extent = analysis.innerExtent
    let finish = op == .mean ? " / \(CLiteral.float(Double(extent)))" : ""
    out.line("/* r\(reduction) = \(op.rawValue) over the row */")
    if isVectorizable(steps, stores: []) {
      let rowValues = analysis.rowValues(usedBy: steps, plus: [source])
      let neutral = op == .max ? "(-INFINITY)" : "0.0f"
      let combine = op == .max ? "kv_max" : "kv_add"
      out.line("kiln_vf acc\(reduction) = kv_set1(\(neutral));")
      openVectorLoop(rowValues)
      for step in steps { emitVectorStep(step) }
      out.line("kiln_vf part\(reduction) = \(vectorName(source));")
      out.open("if (n < KILN_VLEN)")
      out.line("/* lanes past the end of the row stay out of the reduction */")
      out.line("float lanes[KILN_VLEN];")
      out.line("kv_storeu(lanes, part\(reduction));")
      out.line("for (int l = n; l < KILN_VLEN; l++) lanes[l] = \(neutral);")
      out.line("part\(reduction) = kv_loadu(lanes);")
      out.close()
      out.line("acc\(reduction) = \(combine)(acc\(reduction), part\(reduction));")
      out.close()
      out.line("const float r\(reduction) = \(op == .max ? "kv_hmax" : "kv_hsum")(acc\(reduction))\(finish);")
    } else {
      out.line("float acc\(reduction) = \(op == .max ? "-INFINITY" : "0.0f");")
      out.open("for (int j = 0; j < \(extent); j++)")
      for step in steps { out.line("const float t\(step) = \(scalarExpression(step, element: "j"));") }
      let value = scalarName(source)
      out.line(op == .max ? "acc\(reduction) = fmaxf(acc\(reduction), \(value));" : "acc\(reduction) += \(value);")
      out.close()
      out.line("const float r\(reduction) = acc\(reduction)\(finish);")
    }
  }

  private mutating func emitFinalPass() {
    let stores = kernel.stores.indices.filter { !analysis.storesOncePerRow($0) }
    guard !stores.isEmpty else { return }
    let roots = stores.map { kernel.stores[$0].step }
    let steps = analysis.elementSteps(reaching: roots)
    out.line("/* the elementwise outputs */")
    if isVectorizable(steps, stores: stores) {
      openVectorLoop(analysis.rowValues(usedBy: steps, plus: roots))
      for step in steps { emitVectorStep(step) }
      for store in stores { out.line("kiln_store_n(dst\(store) + j, \(vectorName(kernel.stores[store].step)), n);") }
      out.close()
    } else {
      out.open("for (int j = 0; j < \(analysis.innerExtent); j++)")
      for step in steps { out.line("const float t\(step) = \(scalarExpression(step, element: "j"));") }
      for store in stores {
        let index = CLiteral.product("j", analysis.storeInnerStrides[store])
        out.line("dst\(store)[\(index)] = \(scalarName(kernel.stores[store].step));")
      }
      out.close()
    }
  }

  /// Vector code needs every element-varying load and store of the pass to be unit-stride.
  private func isVectorizable(_ steps: [Int], stores: [Int]) -> Bool {
    guard kernel.vectorize else { return false }
    let loadsUnit = steps.allSatisfy { step in
      guard case .load(let operand) = kernel.steps[step] else { return true }
      return analysis.operandInnerStrides[operand] == 1
    }
    return loadsUnit && stores.allSatisfy { analysis.storeInnerStrides[$0] == 1 }
  }

  private mutating func openVectorLoop(_ rowValues: [Int]) {
    out.open("for (int j = 0; j < \(analysis.innerExtent); j += KILN_VLEN)")
    out.line("const int n = KILN_MIN(KILN_VLEN, \(analysis.innerExtent) - j);")
    for value in rowValues { out.line("const kiln_vf r\(value)v = kv_set1(r\(value));") }
  }

  // MARK: Steps

  private func scalarName(_ step: Int) -> String { analysis.rowInvariant[step] ? "r\(step)" : "t\(step)" }
  private func vectorName(_ step: Int) -> String { analysis.rowInvariant[step] ? "r\(step)v" : "v\(step)" }

  /// The C expression of `step` on floats; `element` indexes the innermost axis of loads.
  private func scalarExpression(_ step: Int, element: String) -> String {
    switch kernel.steps[step] {
    case .load(let operand):
      let index = analysis.operandInnerStrides[operand] == 0 ? "0" : CLiteral.product(element, analysis.operandInnerStrides[operand])
      return isInteger(operand) ? "(float)src\(operand)[\(index)]" : "src\(operand)[\(index)]"
    case .constant(let value):
      return CLiteral.float(value)
    case .unary(let op, let a):
      return Self.scalarUnary(op, scalarName(a))
    case .binary(let op, let a, let b):
      return Self.scalarBinary(op, scalarName(a), scalarName(b))
    case .reduce:
      return scalarName(step)
    }
  }

  static func scalarUnary(_ op: UnaryOp, _ a: String) -> String {
    switch op {
    case .neg: return "-\(a)"
    case .exp: return "expf(\(a))"
    case .log: return "logf(\(a))"
    case .sqrt: return "sqrtf(\(a))"
    case .rsqrt: return "1.0f / sqrtf(\(a))"
    case .tanh: return "tanhf(\(a))"
    case .erf: return "erff(\(a))"
    case .sigmoid: return "1.0f / (1.0f + expf(-\(a)))"
    case .sin: return "sinf(\(a))"
    case .cos: return "cosf(\(a))"
    case .reciprocal: return "1.0f / \(a)"
    }
  }

  static func scalarBinary(_ op: BinaryOp, _ a: String, _ b: String) -> String {
    switch op {
    case .add: return "\(a) + \(b)"
    case .sub: return "\(a) - \(b)"
    case .mul: return "\(a) * \(b)"
    case .div: return "\(a) / \(b)"
    case .max: return "fmaxf(\(a), \(b))"
    case .min: return "fminf(\(a), \(b))"
    case .pow: return "powf(\(a), \(b))"
    }
  }

  /// The kv_* expression of a unary op, or nil when only the scalar function exists.
  static func vectorUnary(_ op: UnaryOp, _ a: String) -> String? {
    switch op {
    case .neg: return "kv_sub(kv_zero(), \(a))"
    case .exp: return "kv_exp(\(a))"
    case .sqrt: return "kv_sqrt(\(a))"
    case .rsqrt: return "kv_div(kv_set1(1.0f), kv_sqrt(\(a)))"
    case .tanh: return "kv_tanh(\(a))"
    case .erf: return "kv_erf(\(a))"
    case .sigmoid: return "kv_sigmoid(\(a))"
    case .reciprocal: return "kv_div(kv_set1(1.0f), \(a))"
    case .log, .sin, .cos: return nil
    }
  }

  static func vectorBinary(_ op: BinaryOp, _ a: String, _ b: String) -> String? {
    switch op {
    case .add: return "kv_add(\(a), \(b))"
    case .sub: return "kv_sub(\(a), \(b))"
    case .mul: return "kv_mul(\(a), \(b))"
    case .div: return "kv_div(\(a), \(b))"
    case .max: return "kv_max(\(a), \(b))"
    case .min: return "kv_min(\(a), \(b))"
    case .pow: return nil
    }
  }

  /// `v<step>` for an element-varying step inside a vector loop (`j`, `n` in scope).
  private mutating func emitVectorStep(_ step: Int) {
    let name = vectorName(step)
    switch kernel.steps[step] {
    case .load(let operand) where isInteger(operand):
      emitLaneByLane(name, comment: "int32 operand, converted lane by lane",
                     fill: "lanes[l] = l < n ? (float)src\(operand)[j + l] : 0.0f;")
    case .load(let operand):
      out.line("const kiln_vf \(name) = kiln_load_n(src\(operand) + j, n);")
    case .constant, .reduce:
      break  // row-invariant: available as r<step>v
    case .unary(let op, let a):
      if let expression = Self.vectorUnary(op, vectorName(a)) {
        out.line("const kiln_vf \(name) = \(expression);")
      } else {
        emitLaneByLane(name, comment: "no vector form: lane by lane", spill: [vectorName(a)],
                       fill: "lanes[l] = \(Self.scalarUnary(op, "lanes[l]"));")
      }
    case .binary(let op, let a, let b):
      if let expression = Self.vectorBinary(op, vectorName(a), vectorName(b)) {
        out.line("const kiln_vf \(name) = \(expression);")
      } else {
        emitLaneByLane(name, comment: "no vector form: lane by lane", spill: [vectorName(a), vectorName(b)],
                       fill: "lanes[l] = \(Self.scalarBinary(op, "lanes[l]", "lanes_b[l]"));")
      }
    }
  }

  /// `name` built in a stack array: `spill` vectors are stored to `lanes` (and `lanes_b`), `fill`
  /// runs for each lane l, and the array is loaded back.
  private mutating func emitLaneByLane(_ name: String, comment: String, spill: [String] = [], fill: String) {
    out.line("kiln_vf \(name);")
    out.openBlock()
    out.line("/* \(comment) */")
    out.line("float lanes[KILN_VLEN];")
    if spill.count > 1 { out.line("float lanes_b[KILN_VLEN];") }
    for (vector, array) in zip(spill, ["lanes", "lanes_b"]) { out.line("kv_storeu(\(array), \(vector));") }
    out.line("for (int l = 0; l < KILN_VLEN; l++) \(fill)")
    out.line("\(name) = kv_loadu(lanes);")
    out.close()
  }
}
