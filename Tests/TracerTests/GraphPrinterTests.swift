import Testing
@testable import Tracer

@Suite struct GraphPrinterTests {
  @Test func smallGraphPrintsOneLinePerNodeThenOutputs() throws {
    let expected = """
      %0 = input "x" : f32[2, 3]
      %1 = param "proj.weight" : f32[3, 4]  # proj
      %2 = matmul %0, %1 : f32[2, 4]  # proj
      %3 = constant splat(2.0) : f32[]
      %4 = mul %2, %3 : f32[2, 4]
      %5 = constant dense[4](1.0, 2.0, 3.0, 4.0) : f32[1, 4]
      %6 = add %4, %5 : f32[2, 4]
      output "y" = %6

      """
    #expect(try SerializationSamples.small().textDescription == expected)
  }

  @Test func attributesArePrintedCompactly() throws {
    let graph = try Graph.trace { b in
      let x = b.input("x", [2, 4, 6, 6])
      let pieces = x.reshape([2, 4, 36]).permute([0, 2, 1]).slice(axis: 1, 0..<18).max(axis: -1)
      let spatial = x.conv2d(b.param("w", [4, 1, 3, 3]), stride: 2, padding: 1, groups: 4).upsampleNearest(2)
      b.output("a", Tensor.concat([pieces, pieces], axis: 1).expand([2, 36, 1]))
      b.output("b", spatial + b.arange(6, start: 0.5, step: 2))
    }
    let text = graph.textDescription
    for fragment in ["= reshape[2, 4, 36] %0 : f32[2, 4, 36]", "= permute[0, 2, 1] %1", "= slice(axis: 1, 0..<18) %2",
                     "= reduce_max(axis: -1) %3 : f32[2, 18, 1]", "= concat(axis: 1) %4, %4 : f32[2, 36, 1]",
                     "= expand[2, 36, 1] %8", "= conv2d(stride: [2, 2], padding: [1, 1], groups: 4) %0, %5 : f32[2, 4, 3, 3]",
                     "= upsample_nearest(scale: 2) %6 : f32[2, 4, 6, 6]", "= constant arange(start: 0.5, step: 2.0) : f32[6]",
                     "output \"a\" = %9", "output \"b\" = %11"] {
      #expect(text.contains(fragment), "missing \(fragment) in\n\(text)")
    }
  }

  @Test func namesWithQuotesAndNewlinesStayOnOneLine() throws {
    let graph = try Graph.trace { b in b.output("out\n\"2\"", b.input("a\"b\nc", [1]).exp()) }
    let lines = graph.textDescription.split(separator: "\n")
    #expect(lines.count == 3)
    #expect(lines[0] == #"%0 = input "a\"b\nc" : f32[1]"#)
    #expect(lines[2] == #"output "out\n\"2\"" = %1"#)
  }

  @Test func longDenseConstantShowsItsCountAndFirstValues() {
    #expect(Graph.constantText(.dense((1...20).map(Double.init))) == "dense[20](1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, …)")
  }
}
