import Foundation
import Tracer

/// Renders a lowered program as one C translation unit following `kiln_module.h`: the template
/// prelude, one function per distinct kernel instance (identical blocks share them), the weight
/// packing entry, and `kiln_run`, the whole schedule with barriers only where a dependency needs one.
enum ModuleEmitter {
  static func emit(_ lowered: LoweredProgram, name: String) throws(CodegenError) -> Program {
    let steps = planSteps(lowered.kernels)
    let plan: BufferPlan
    do {
      plan = try BufferPlan(sizes: lowered.bufferSizes, steps: steps.map(\.planStep),
                            inputs: lowered.inputs.map(\.buffer), outputs: lowered.outputs.map(\.buffer))
    } catch {
      throw CodegenError.invalidGraph(error.description)
    }
    let barriers = barrierPlacement(lowered.kernels, steps: steps, plan: plan)

    // Distinct functions, named in order of first use.
    var functionNames: [String: String] = [:]
    var functions: [String] = []
    var functionTemplates: [String] = []
    var summaries: [KernelSummary] = []
    for (index, kernel) in lowered.kernels.enumerated() {
      let function: String
      if let existing = functionNames[kernel.function] {
        function = existing
      } else {
        function = "f\(functions.count)_\(kernel.template)"
        functionNames[kernel.function] = function
        functions.append(kernel.function.replacingOccurrences(of: LoweringContext.placeholder, with: function))
        functionTemplates.append(kernel.template)
      }
      var scopes: [String] = []
      for id in kernel.nodes where !lowered.graph.nodes[id].scope.isEmpty && !scopes.contains(lowered.graph.nodes[id].scope) {
        scopes.append(lowered.graph.nodes[id].scope)
      }
      summaries.append(KernelSummary(name: "k\(index)_\(kernel.template)", template: kernel.template, function: function,
                                     scopes: scopes, nodes: kernel.nodes, flops: kernel.flops, bytes: kernel.bytes))
    }

    var source = header(lowered, name: name, kernelCount: lowered.kernels.count, functionCount: functions.count)
    do {
      source += try TemplateLibrary.bundled().prelude(for: lowered.profile)
    }
    let split = TranslationUnitSplit(functions: functions, templates: functionTemplates, calls: lowered.kernels.count)
    source += split.kernelSection
    source += "\n#if KILN_IN_PART(0)\n"
    source += weightFunctions(lowered.weights, profile: lowered.profile)
    source += contextFunctions(lowered, plan: plan)
    source += runFunction(lowered, plan: plan, summaries: summaries, barriers: barriers)
    source += "#endif\n"

    func value(_ entry: (name: String, buffer: Int, shape: [Int], dtype: DType)) -> ProgramValue {
      ProgramValue(name: entry.name, shape: entry.shape, dtype: entry.dtype, byteOffset: plan.offsets[entry.buffer])
    }
    return Program(
      name: name, profile: lowered.profile, mode: lowered.mode, weights: lowered.weights,
      inputs: lowered.inputs.map(value), outputs: lowered.outputs.map(value), arenaBytes: max(plan.arenaBytes, 64),
      liveBytesLowerBound: plan.lowerBound, kernels: summaries, patterns: lowered.patterns, source: source,
      optimization: lowered.mode == .compiled ? .o3 : .o2, translationUnits: split.parts)
  }

  // MARK: Schedule

  /// Kernels of one group (the pieces of a concat) form one step of the buffer plan.
  struct Step {
    var kernels: [Int]
    var planStep: PlanStep
  }

  static func planSteps(_ kernels: [LoweredKernel]) -> [Step] {
    var steps: [Step] = []
    for (index, kernel) in kernels.enumerated() {
      if let group = kernel.group, let last = steps.last, let previous = last.kernels.last, kernels[previous].group == group {
        steps[steps.count - 1].kernels.append(index)
        steps[steps.count - 1].planStep.reads = unique(last.planStep.reads + kernel.reads)
        steps[steps.count - 1].planStep.writes = unique(last.planStep.writes + kernel.writes)
        continue
      }
      steps.append(Step(kernels: [index], planStep: PlanStep(reads: unique(kernel.reads), writes: unique(kernel.writes))))
    }
    // A buffer both read and written by one step is only written (a concat piece reading its own output never happens).
    for index in steps.indices {
      let writes = steps[index].planStep.writes
      steps[index].planStep.reads.removeAll { writes.contains($0) }
    }
    return steps
  }

  static func unique(_ values: [Int]) -> [Int] {
    var seen = Set<Int>()
    return values.filter { seen.insert($0).inserted }
  }

  /// For each kernel, whether a barrier must come before it: it reads memory written since the
  /// last barrier, or writes memory read or written since then (the arena reuses memory).
  static func barrierPlacement(_ kernels: [LoweredKernel], steps: [Step], plan: BufferPlan) -> [Bool] {
    var before = [Bool](repeating: false, count: kernels.count)
    var written: [Range<Int>] = []
    var read: [Range<Int>] = []
    func range(_ buffer: Int) -> Range<Int> { plan.offsets[buffer]..<(plan.offsets[buffer] + plan.sizes[buffer]) }
    func overlaps(_ ranges: [Range<Int>], _ others: [Range<Int>]) -> Bool {
      ranges.contains { r in others.contains { $0.overlaps(r) } }
    }
    for step in steps {
      let reads = step.planStep.reads.map(range)
      let writes = step.planStep.writes.map(range)
      if overlaps(reads, written) || overlaps(writes, written) || overlaps(writes, read) {
        before[step.kernels[0]] = true
        written = []
        read = []
      }
      written += writes
      read += reads
    }
    return before
  }

  // MARK: Rendering

  static func header(_ lowered: LoweredProgram, name: String, kernelCount: Int, functionCount: Int) -> String {
    """
    /*
     * Kiln module '\(name)': profile \(lowered.profile.name), \(lowered.mode.rawValue) lowering.
     * \(kernelCount) kernel calls, \(functionCount) distinct kernel functions, \(lowered.weights.count) weights.
     * Generated by Kiln's Codegen; the ABI is templates/common/kiln_module.h.
     */
    #include <math.h>
    #include <stdint.h>
    #include <string.h>


    """
  }

  static func weightFunctions(_ weights: [WeightSlot], profile: HardwareProfile) -> String {
    var sizes = ""
    var packers = ""
    for (index, slot) in weights.enumerated() {
      let count = slot.shape.reduce(1, *)
      switch slot.packing {
      case .plain:
        sizes += "    case \(index): return \(count);\n"
        packers += "    case \(index): memcpy(packed, raw, sizeof(float) * \(count)); break;\n"
      case .gemmB(let k, let n, let strideK, let strideN):
        sizes += "    case \(index): return KILN_PACKED_B_FLOATS(\(k), \(n));\n"
        packers += "    case \(index): kiln_pack_b(raw, \(strideK), \(strideN), \(k), \(n), \(profile.blocking.kc), packed); break;\n"
      case .conv2d(let oc, let ic, let kh, let kw):
        sizes += "    case \(index): return KILN_CONV_PACKED_FLOATS(\(oc), \(ic), \(kh), \(kw));\n"
        packers += "    case \(index): kiln_conv2d_pack_weights(raw, \(oc), \(ic), \(kh), \(kw), \(profile.blocking.kc), packed); break;\n"
      case .conv2dUpsample2x(let oc, let ic):
        sizes += "    case \(index): return KILN_CONV_UPSAMPLE2X_PACKED_FLOATS(\(oc), \(ic));\n"
        packers += "    case \(index): kiln_conv2d_upsample2x_pack_weights(raw, \(oc), \(ic), \(profile.blocking.kc), packed); break;\n"
      }
    }
    return """

      /* ---- weights: \(weights.map(\.name).prefix(4).joined(separator: ", "))\(weights.count > 4 ? ", …" : "") ---- */

      #define KILN_WEIGHT_COUNT \(weights.count)
      KILN_EXPORT int kiln_weight_count(void) { return KILN_WEIGHT_COUNT; }

      KILN_EXPORT size_t kiln_packed_weight_floats(int w) {
        switch (w) {
      \(sizes)    default: return 0;
        }
      }

      KILN_EXPORT void kiln_pack_weight(int w, const float *raw, float *packed) {
        switch (w) {
      \(packers)    default: break;
        }
      }

      """
  }

  static func contextFunctions(_ lowered: LoweredProgram, plan: BufferPlan) -> String {
    let scratch = Set(lowered.kernels.compactMap(\.scratchFloats)).sorted()
    return """

      KILN_EXPORT size_t kiln_arena_bytes(void) { return \(max(plan.arenaBytes, 64)); }
      KILN_EXPORT int kiln_kernel_count(void) { return \(lowered.kernels.count); }

      static size_t kiln_scratch_floats(void) {
        size_t floats = 0;
      \(scratch.map { "  floats = KILN_MAX(floats, (size_t)(\($0)));\n" }.joined())  return floats;
      }

      KILN_EXPORT kiln_ctx *kiln_ctx_create(unsigned char *arena, const float *const *weights, const int *node_of_thread,
                                            int n_threads) {
        return kiln_ctx_create_with(arena, weights, node_of_thread, n_threads, kiln_scratch_floats());
      }

      """
  }

  static func runFunction(_ lowered: LoweredProgram, plan: BufferPlan, summaries: [KernelSummary], barriers: [Bool]) -> String {
    var body = ""
    for (index, kernel) in lowered.kernels.enumerated() {
      let summary = summaries[index]
      if barriers[index] { body += "  kiln_barrier_wait(&ctx->barrier);\n" }
      let scope = summary.scopes.first.map { "  " + $0 + (summary.scopes.count > 1 ? " …" : "") } ?? ""
      body += "  /* \(summary.name)\(scope) */\n"
      var arguments = kernel.arguments.map { pointer($0, plan: plan) }
      if kernel.scratchFloats != nil { arguments.append("scratch") }
      arguments += ["thread_id", "n_threads"]
      body += "  \(summary.function)(\(arguments.joined(separator: ", ")));\n"
      body += "  KILN_KERNEL_DONE(\(index));\n"
    }
    return """

      /* With timing on, every kernel ends at a barrier and thread 0 records the time since the
         previous one (a call, not inlined: the schedule has one per kernel). */
      static __attribute__((noinline)) void kiln_kernel_done(kiln_ctx *ctx, int thread_id, int index, double *last) {
        kiln_barrier_wait(&ctx->barrier);
        if (thread_id == 0) {
          double now = kiln_now();
          ctx->kernel_seconds[index] = now - *last;
          *last = now;
        }
      }
      #define KILN_KERNEL_DONE(index) \\
        if (timing) kiln_kernel_done(ctx, thread_id, index, &last)

      KILN_EXPORT void kiln_run(kiln_ctx *ctx, int thread_id) {
        const int n_threads = ctx->n_threads;
        unsigned char *arena = ctx->arena;
        const float *const *W = kiln_weights_of(ctx, thread_id, KILN_WEIGHT_COUNT);
        float *scratch = ctx->scratch[thread_id];
        const int timing = ctx->kernel_seconds != 0;
        double last = timing && thread_id == 0 ? kiln_now() : 0.0;
        (void)W;
        (void)scratch;
        (void)arena;
        (void)last;
      \(body)  kiln_barrier_wait(&ctx->barrier);
      }

      """
  }

  /// The C expression for a kernel argument.
  static func pointer(_ argument: KernelArgument, plan: BufferPlan) -> String {
    switch argument.base {
    case .activation(let buffer):
      let bytes = plan.offsets[buffer] + 4 * argument.elementOffset
      return "(\(argument.cType))(arena + \(bytes))"
    case .weight(let slot):
      let base = "W[\(slot)]"
      return argument.elementOffset == 0 ? "(\(argument.cType))\(base)" : "(\(argument.cType))(\(base) + \(argument.elementOffset))"
    }
  }
}
