import KilnTestSupport
import Foundation
import Testing
@testable import Tracer

/// Graphs traced with the DSL for the serialization tests.
enum SerializationSamples {
  /// Seven nodes whose JSON the malformed-input tests edit line by line:
  /// 0 input x [2, 3], 1 param proj.weight [3, 4], 2 matmul [2, 4], 3 splat 2, 4 mul, 5 dense [1, 4], 6 add.
  static func small() throws -> Graph {
    try Graph.trace { b in
      let x = b.input("x", [2, 3])
      let y = b.scope("proj") { x.matmul(b.param("weight", [3, 4])) }
      let z = y * 2.0 + b.constant(.dense([1, 2, 3, 4]), [1, 4])
      b.output("y", z)
    }
  }

  /// A small transformer block and convolutional decoder that uses every primitive.
  static func everyOp() throws -> Graph {
    try Graph.trace { b in
      let tokens = b.input("tokens", [2, 8, 16])
      let labels = b.input("labels", [2], dtype: .i32)
      let table = b.param("class_embedding", [10, 16])
      let conditioning = silu(table.gather(labels))
      let block = b.scope("blocks") {
        b.scope("0") {
          let chunks = b.linear("ada", conditioning, out: 32).chunk(2, axis: -1)
          let normed = modulate(b.layerNorm("norm", tokens), shift: chunks[0], scale: chunks[1])
          let qkv = b.linear("qkv", normed, out: 48).reshape([2, 8, 3, 2, 8]).permute([2, 0, 3, 1, 4])
          let (q, k, v) = (qkv.slice(axis: 0, 0..<1).reshape([2, 2, 8, 8]),
                           qkv.slice(axis: 0, 1..<2).reshape([2, 2, 8, 8]),
                           qkv.slice(axis: 0, 2..<3).reshape([2, 2, 8, 8]))
          let attended = attention(q, k, v).permute([0, 2, 1, 3]).reshape([2, 8, 16])
          let mlp = b.linear("fc2", gelu(b.linear("fc1", attended, out: 32), approximation: .tanh), out: 16)
          return tokens + attended + mlp
        }
      }
      let image = block.permute([0, 2, 1]).reshape([2, 16, 2, 4])
      let decoded = b.scope("decoder") {
        let up = b.conv2d("conv", image.upsampleNearest(2), out: 8, kernel: 3, padding: 1)
        let grouped = b.conv2d("depthwise", up, out: 8, kernel: 3, stride: 2, padding: 1, groups: 8)
        let pooled = (-grouped.mean(axis: 1).sqrt().log()).tanh().erf().sin().cos().reciprocal()
        let bias = b.arange(4, start: -0.5, step: 0.25).reshape([1, 1, 1, 4]).expand([2, 1, 2, 4])
        return (pooled.maximum(bias).minimum(bias * 3.0) / 2.0 - 1.0).pow(2.0).rsqrt().exp()
      }
      b.output("decoded", decoded)
      b.output("tokens", Tensor.concat([block, block.sum(axis: 1).expand([2, 1, 16])], axis: 1))
    }
  }
}

@Suite struct GraphJSONTests {
  private func json(_ graph: Graph) throws -> String {
    String(decoding: try graph.jsonData(), as: UTF8.self)
  }

  /// Decodes `text` and returns the error it must raise.
  private func decodeError(_ text: String) -> TracerError? {
    do {
      _ = try Graph(jsonData: Data(text.utf8))
      return nil
    } catch {
      return error
    }
  }

  /// The small graph's JSON with `original` (which must occur) replaced by `replacement`.
  private func smallJSON(replacing original: String, with replacement: String) throws -> String {
    let text = try json(SerializationSamples.small())
    try #require(text.contains(original), "the sample JSON has no \(original)")
    return text.replacingOccurrences(of: original, with: replacement)
  }

  /// Checks the error is a one-line `malformedJSON` at `field` whose message holds `phrases`.
  private func expectMalformed(_ error: TracerError?, field: String, _ phrases: String...,
                               sourceLocation: SourceLocation = #_sourceLocation) {
    guard case .malformedJSON(let actualField, let message) = error else {
      Issue.record("expected malformedJSON at \(field), got \(String(describing: error))", sourceLocation: sourceLocation)
      return
    }
    #expect(actualField == field, "message: \(message)", sourceLocation: sourceLocation)
    for phrase in phrases { #expect(message.contains(phrase), "message: \(message)", sourceLocation: sourceLocation) }
    #expect(!(error?.description.contains("\n") ?? true), sourceLocation: sourceLocation)
  }

  // MARK: Round trips

  @Test func smallGraphJSONHasTheDocumentedLayout() throws {
    let text = try json(SerializationSamples.small())
    #expect(text.hasPrefix("{\n  \"kiln-graph\": 1,\n  \"nodes\": [\n"))
    #expect(text.contains(#"{"id": 2, "op": "matmul", "operands": [0, 1], "shape": [2, 4], "dtype": "f32", "scope": "proj"}"#))
    #expect(text.contains(#"{"id": 0, "op": "input", "operands": [], "shape": [2, 3], "dtype": "f32", "scope": "", "name": "x"}"#))
    #expect(text.contains(#""value": {"dense": [1.0, 2.0, 3.0, 4.0]}"#))
    #expect(text.hasSuffix("  \"outputs\": [\n    {\"name\": \"y\", \"node\": 6}\n  ]\n}\n"))
  }

  @Test func everyOpGraphRoundTripsToEqualGraphAndIdenticalBytes() throws {
    let graph = try SerializationSamples.everyOp()
    let kinds = Set(graph.nodes.map(\.op.kind))
    for kind in ["gather", "conv2d", "upsample_nearest", "expand", "concat", "slice", "permute", "reshape",
                 "reduce_mean", "reduce_max", "reduce_sum", "matmul", "pow", "min", "max", "erf", "neg"] {
      #expect(kinds.contains(kind), "the sample graph should use \(kind)")
    }
    let data = try graph.jsonData()
    let decoded = try Graph(jsonData: data)
    #expect(decoded == graph)
    #expect(try decoded.jsonData() == data)
  }

  @Test func doublesRoundTripBitForBit() throws {
    var generator = SplitMix64(seed: 0x5EED_0001)
    var values: [Double] = [0.1, 1e-6, -0.0, 0.0, 1.0 / 3.0, 1e300, -1e-300, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                            .leastNormalMagnitude, 123456789012345680, 2.5, -7]
    while values.count < 20_000 {
      let magnitude = Double(sign: .plus, exponent: Int(generator.next() % 2000) - 1000,
                             significand: 1 + Double(generator.next() >> 11) / Double(1 << 53))
      values.append(generator.next() & 1 == 0 ? magnitude : -magnitude)
    }
    let graph = try Graph.trace { b in
      let dense = b.constant(.dense(values), [values.count])
      let splat = b.constant(.splat(-0.0))
      let arange = b.constant(.arange(start: 0.1, step: 1e-6), [values.count])
      b.output("sum", dense + splat + arange)
    }
    let decoded = try Graph(jsonData: try graph.jsonData())
    guard case .constant(.dense(let read)) = decoded[0].op,
          case .constant(.splat(let zero)) = decoded[1].op,
          case .constant(.arange(let start, let step)) = decoded[2].op
    else { Issue.record("constants did not decode as constants"); return }
    #expect(read.count == values.count)
    let mismatches = zip(values, read).filter { $0.bitPattern != $1.bitPattern }
    #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(3))")
    #expect(zero.bitPattern == (-0.0).bitPattern)
    #expect(start.bitPattern == 0.1.bitPattern && step.bitPattern == 1e-6.bitPattern)
  }

  @Test func writeThenReadFromFileGivesTheSameGraphAndLeavesNoTemporaryFile() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-graph-json-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("graph.json")
    let graph = try SerializationSamples.everyOp()
    try SerializationSamples.small().write(to: url)
    try graph.write(to: url)
    #expect(try Graph(contentsOf: url) == graph)
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["graph.json"])
  }

  // MARK: Refused files

  @Test func textThatIsNotJSONIsRefused() {
    expectMalformed(decodeError("kiln graph, version one"), field: "", "not valid JSON at byte 0")
  }

  @Test func truncatedFileIsRefused() throws {
    let text = try json(SerializationSamples.small())
    expectMalformed(decodeError(String(text.prefix(text.count / 2))), field: "", "not valid JSON", "end of input")
  }

  @Test func missingVersionIsRefusedNamingTheVersionRead() throws {
    let text = try smallJSON(replacing: "\"kiln-graph\": 1,", with: "")
    expectMalformed(decodeError(text), field: "kiln-graph", "missing", "version 1")
  }

  @Test func newerVersionIsRefusedNamingTheVersionRead() throws {
    let text = try smallJSON(replacing: "\"kiln-graph\": 1,", with: "\"kiln-graph\": 2,")
    expectMalformed(decodeError(text), field: "kiln-graph", "version 2 is not supported", "version 1")
  }

  @Test func versionOfWrongTypeIsRefused() throws {
    let text = try smallJSON(replacing: "\"kiln-graph\": 1,", with: "\"kiln-graph\": \"1\",")
    expectMalformed(decodeError(text), field: "kiln-graph", "a string")
  }

  @Test func operandsOfWrongTypeAreRefused() throws {
    let text = try smallJSON(replacing: "\"operands\": [0, 1]", with: "\"operands\": \"0, 1\"")
    expectMalformed(decodeError(text), field: "nodes[2].operands", "expected an array, got a string")
  }

  @Test func dimensionOfWrongTypeIsRefused() throws {
    let text = try smallJSON(replacing: "\"shape\": [2, 3]", with: "\"shape\": [2, \"3\"]")
    expectMalformed(decodeError(text), field: "nodes[0].shape[1]", "expected an integer")
  }

  @Test func unknownOpIsRefused() throws {
    let text = try smallJSON(replacing: "\"op\": \"matmul\"", with: "\"op\": \"matmult\"")
    expectMalformed(decodeError(text), field: "nodes[2].op", "unknown op 'matmult'")
  }

  @Test func unknownDTypeIsRefused() throws {
    let text = try smallJSON(replacing: "\"shape\": [2, 3], \"dtype\": \"f32\"", with: "\"shape\": [2, 3], \"dtype\": \"f64\"")
    expectMalformed(decodeError(text), field: "nodes[0].dtype", "unknown dtype 'f64'")
  }

  @Test func idsOutOfOrderAreRefused() throws {
    let text = try smallJSON(replacing: "{\"id\": 4,", with: "{\"id\": 7,")
    expectMalformed(decodeError(text), field: "nodes[4].id", "expected 4, got 7")
  }

  @Test func danglingOperandIsRefused() throws {
    let text = try smallJSON(replacing: "\"operands\": [0, 1]", with: "\"operands\": [0, 99]")
    expectMalformed(decodeError(text), field: "nodes[2].operands[1]", "99 names no node")
  }

  @Test func negativeOperandIsRefused() throws {
    let text = try smallJSON(replacing: "\"operands\": [0, 1]", with: "\"operands\": [0, -1]")
    expectMalformed(decodeError(text), field: "nodes[2].operands[1]", "not a node id")
  }

  @Test func forwardOperandIsRefused() throws {
    let text = try smallJSON(replacing: "\"operands\": [0, 1]", with: "\"operands\": [0, 5]")
    expectMalformed(decodeError(text), field: "nodes[2].operands[1]", "refers forward")
  }

  @Test func declaredShapeThatDisagreesWithInferenceIsRefusedNamingBoth() throws {
    let text = try smallJSON(replacing: "\"operands\": [0, 1], \"shape\": [2, 4]", with: "\"operands\": [0, 1], \"shape\": [2, 5]")
    expectMalformed(decodeError(text), field: "nodes[2].shape", "declared [2, 5]", "gives [2, 4]")
  }

  @Test func zeroDimensionIsRefused() throws {
    let text = try smallJSON(replacing: "\"shape\": [2, 3]", with: "\"shape\": [0, 3]")
    expectMalformed(decodeError(text), field: "nodes[0].shape[0]", "at least 1")
  }

  @Test func negativeDimensionIsRefused() throws {
    let text = try smallJSON(replacing: "\"shape\": [2, 3]", with: "\"shape\": [2, -3]")
    expectMalformed(decodeError(text), field: "nodes[0].shape[1]", "at least 1")
  }

  @Test func dimensionWrittenWithExponentIsRefused() throws {
    let text = try smallJSON(replacing: "\"shape\": [2, 3]", with: "\"shape\": [1e12, 3]")
    expectMalformed(decodeError(text), field: "nodes[0].shape[0]", "expected an integer, got 1e12")
  }

  @Test func shapeBeyondTheElementLimitIsRefused() throws {
    let text = try smallJSON(replacing: "\"shape\": [2, 3]", with: "\"shape\": [1000000000000, 3]")
    expectMalformed(decodeError(text), field: "nodes[0].shape", "more than \(ShapeInference.maxElementCount) elements")
  }

  @Test func dimensionThatDoesNotFitAnIntIsRefused() throws {
    let text = try smallJSON(replacing: "\"shape\": [2, 3]", with: "\"shape\": [2, 99999999999999999999]")
    expectMalformed(decodeError(text), field: "nodes[0].shape[1]", "does not fit in a 64-bit integer")
  }

  @Test func hostileAttributeIsRefusedWithoutOverflow() throws {
    let text = try smallJSON(replacing: "\"op\": \"mul\", \"operands\": [2, 3], \"shape\": [2, 4], \"dtype\": \"f32\", \"scope\": \"\"",
                             with: "\"op\": \"upsample_nearest\", \"operands\": [2], \"shape\": [2, 4], \"dtype\": \"f32\", \"scope\": \"\", \"scale\": 68719476736")
    expectMalformed(decodeError(text), field: "nodes[4].scale", "larger than")
  }

  @Test func denseConstantWithWrongCountIsRefused() throws {
    let text = try smallJSON(replacing: "[1.0, 2.0, 3.0, 4.0]", with: "[1.0, 2.0, 3.0]")
    expectMalformed(decodeError(text), field: "nodes[5].value.dense", "has 3 values", "needs 4")
  }

  @Test func nonFiniteConstantIsRefused() throws {
    let text = try smallJSON(replacing: "[1.0, 2.0, 3.0, 4.0]", with: "[1.0, 2.0, 1e999, 4.0]")
    expectMalformed(decodeError(text), field: "nodes[5].value.dense[2]", "not a finite Double")
  }

  @Test func outputNamingNoNodeIsRefused() throws {
    let text = try smallJSON(replacing: "{\"name\": \"y\", \"node\": 6}", with: "{\"name\": \"y\", \"node\": 60}")
    expectMalformed(decodeError(text), field: "outputs[0].node", "names node 60")
  }

  @Test func duplicateOutputNamesAreRefused() throws {
    let text = try smallJSON(replacing: "{\"name\": \"y\", \"node\": 6}",
                             with: "{\"name\": \"y\", \"node\": 6}, {\"name\": \"y\", \"node\": 4}")
    expectMalformed(decodeError(text), field: "outputs[1].name", "'y' is used twice")
  }

  @Test func emptyNodesAreRefused() {
    expectMalformed(decodeError(#"{"kiln-graph": 1, "nodes": [], "outputs": []}"#), field: "nodes", "at least one node")
  }

  @Test func unknownFieldIsRefused() throws {
    let text = try smallJSON(replacing: "\"scope\": \"proj\"}", with: "\"scope\": \"proj\", \"fused\": true}")
    expectMalformed(decodeError(text), field: "nodes[2].fused", "unknown field")
  }

  @Test func duplicateMemberIsRefused() throws {
    let text = try smallJSON(replacing: "\"scope\": \"proj\"}", with: "\"scope\": \"proj\", \"scope\": \"other\"}")
    expectMalformed(decodeError(text), field: "nodes[2].scope", "appears twice")
  }

  @Test func deepNestingIsRefusedWithoutExhaustingTheStack() {
    let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
    expectMalformed(decodeError(text), field: "", "nesting deeper than")
  }

  @Test func unreadableFileIsRefusedNamingIt() {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-no-such-graph-\(UUID().uuidString).json")
    do {
      _ = try Graph(contentsOf: url)
      Issue.record("reading a missing file should fail")
    } catch {
      expectMalformed(error, field: url.path, "cannot read the file", "no such file")
    }
  }

  @Test func malformedFileErrorNamesFileAndField() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-bad-graph-\(UUID().uuidString).json")
    defer { try? FileManager.default.removeItem(at: url) }
    try Data(try smallJSON(replacing: "\"op\": \"matmul\"", with: "\"op\": \"matmult\"").utf8).write(to: url)
    do {
      _ = try Graph(contentsOf: url)
      Issue.record("reading a malformed file should fail")
    } catch {
      expectMalformed(error, field: url.path + ": nodes[2].op", "unknown op")
    }
  }

  // MARK: Robustness

  @Test func randomTruncationsAndMutationsNeverCrash() throws {
    let seed: UInt64 = 0xC0FFEE
    var generator = SplitMix64(seed: seed)
    let original = [UInt8](try SerializationSamples.small().jsonData())
    let interesting = Array("0123456789-.eE[]{}\",: tfn\\".utf8) + [0x00, 0xFF, 0xC3]
    var refused = 0
    var accepted = 0
    for trial in 0..<3_000 {
      var bytes = original
      if trial % 4 == 0 {
        bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count))))
      } else {
        for _ in 0...(generator.next() % 4) {
          let position = Int(generator.next() % UInt64(bytes.count))
          bytes[position] = generator.next() & 1 == 0
            ? interesting[Int(generator.next() % UInt64(interesting.count))]
            : UInt8(truncatingIfNeeded: generator.next())
        }
      }
      do {
        let graph = try Graph(jsonData: Data(bytes))
        #expect(throws: Never.self, "seed \(seed) trial \(trial) decoded a graph that fails verify") { try graph.verify() }
        accepted += 1
      } catch {
        refused += 1
      }
    }
    #expect(refused > 1_000, "seed \(seed): only \(refused) of 3000 damaged files were refused")
    #expect(accepted + refused == 3_000)
  }
}

@Suite struct GraphJSONWriterTests {
  @Test func emptyGraphIsNotWrittenBecauseItCouldNotBeRead() {
    #expect(throws: TracerError.self) { try Graph().jsonData() }
  }

  @Test func invalidGraphIsNotWritten() {
    let graph = Graph(nodes: [Node(op: .unary(.exp), operands: [3], shape: [1], dtype: .f32)],
                      outputs: [GraphOutput(name: "y", node: 0)])
    #expect(throws: TracerError.self) { try graph.jsonData() }
  }

  @Test func graphWithoutOutputsRoundTrips() throws {
    let graph = Graph(nodes: [Node(op: .input("x"), operands: [], shape: [3], dtype: .bf16, scope: "é \"q\"\n\u{1}")])
    let data = try graph.jsonData()
    #expect(String(decoding: data, as: UTF8.self).hasSuffix("\"outputs\": []\n}\n"))
    #expect(try Graph(jsonData: data) == graph)
  }

  @Test func invalidUTF8InAStringIsRefused() throws {
    var bytes = [UInt8](try SerializationSamples.small().jsonData())
    let quote = try #require(bytes.firstIndex(of: UInt8(ascii: "x")))
    bytes[quote] = 0xFF
    do {
      _ = try Graph(jsonData: Data(bytes))
      Issue.record("invalid UTF-8 was accepted")
    } catch {
      #expect(error.description.contains("not valid UTF-8"))
    }
  }
}
