import Foundation
import Testing
import Tracer
import Models

@Suite struct GraphDOTTests {
  private func ditGraph() throws -> Graph {
    try ModelRegistry.resolve("dit-tiny").family.trace(config: "tiny")
  }

  @Test func ditDOTIsWellFormedAndEveryEdgeEndpointIsDeclared() throws {
    let graph = try ditGraph()
    let dot = graph.dot()
    #expect(dot.hasPrefix("digraph kiln {\n") && dot.hasSuffix("}\n"))

    var depth = 0
    var inString = false
    var escaped = false
    for character in dot {
      if inString {
        if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
        continue
      }
      switch character {
      case "\"": inString = true
      case "{": depth += 1
      case "}": depth -= 1; #expect(depth >= 0)
      default: break
      }
    }
    #expect(depth == 0 && !inString)

    let lines = dot.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    let declared = Set(lines.compactMap { line -> String? in
      guard line.contains(" [label="), !line.contains("->") else { return nil }
      return String(line.prefix { $0 != " " })
    })
    let edges = lines.filter { $0.contains(" -> ") }
    #expect(declared.count == graph.nodes.count + graph.outputs.count)
    #expect(edges.count == graph.nodes.map(\.operands.count).reduce(0, +) + graph.outputs.count)
    for edge in edges {
      let ends = edge.dropLast().components(separatedBy: " -> ")
      #expect(ends.count == 2 && ends.allSatisfy(declared.contains), "undeclared endpoint in \(edge)")
    }
  }

  @Test func ditBlocksBecomeClusters() throws {
    let dot = try ditGraph().dot()
    #expect(dot.contains("label=\"transformer_blocks.0\";"))
    #expect(dot.contains("label=\"transformer_blocks.1\";"))
    #expect(!dot.contains("label=\"transformer_blocks.0.attn1\";"))
  }

  @Test func namesAreEscaped() throws {
    let graph = try Graph.trace { b in b.output("y", b.input("a\"b\\c\nd", [1]).exp()) }
    #expect(graph.dot().contains(#"n0 [label="%0 input \"a\\\"b\\\\c\\nd\"\nf32[1]""#))
  }

  /// Graphviz's `dot`, when this machine has it; the parse test is skipped otherwise.
  static let graphvizPath = ["/usr/bin/dot", "/usr/local/bin/dot", "/opt/homebrew/bin/dot"]
    .first(where: FileManager.default.isExecutableFile(atPath:))

  @Test(.enabled(if: graphvizPath != nil, "Graphviz is not installed"))
  func graphvizParsesTheDiTGraph() throws {
    let dotPath = try #require(Self.graphvizPath)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: dotPath)
    process.arguments = ["-Tcanon"]
    let input = Pipe(), output = Pipe(), errors = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    input.fileHandleForWriting.write(Data(try ditGraph().dot().utf8))
    try input.fileHandleForWriting.close()
    _ = output.fileHandleForReading.readDataToEndOfFile()
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "dot refused the graph: \(message)")
  }
}
