import ArgumentParser
import Foundation
import Tracer

/// `kiln trace MODEL -o graph.json`: records a model's graph.
struct Trace: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Trace a model into Kiln's graph IR.",
    discussion: "Writes the versioned JSON form (-o graph.json), Graphviz DOT (-o graph.dot) or the text form "
      + "(-o graph.txt, or standard output when -o is omitted).")

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case json, dot, text
  }

  @Argument(help: "A model such as dit-xl-2, sd-vae-decoder, video-dit, mmdit, llama (see `kiln models`).")
  var model: String

  @OptionGroup var modelOptions: ModelOptions

  @Option(name: .shortAndLong, help: "Output file; its extension picks the format unless --format is given.")
  var output: String?

  @Option(help: "Output format: json, dot or text.") var format: Format?

  @Flag(help: "Run the graph passes (canonicalize, CSE, DCE) before writing.") var optimize = false

  func run() throws {
    let source = try GraphSource(model, options: modelOptions)
    let graph = optimize ? try source.graph.optimized() : source.graph
    let chosen = format ?? output.map { path in
      switch URL(fileURLWithPath: path).pathExtension {
      case "dot", "gv": return .dot
      case "txt": return .text
      default: return .json
      }
    } ?? .text

    guard let output else {
      switch chosen {
      case .json: print(String(decoding: try graph.jsonData(), as: UTF8.self))
      case .dot: print(graph.dot())
      case .text: print(graph.textDescription)
      }
      return
    }
    let url = URL(fileURLWithPath: output)
    switch chosen {
    case .json: try graph.write(to: url)
    case .dot: try writeAtomically(graph.dot(), to: url)
    case .text: try writeAtomically(graph.textDescription, to: url)
    }
    let statistics = GraphStatistics(graph)
    print("\(source.title): \(statistics.nodes) nodes, \(formatCount(statistics.params)) parameters, "
          + "\(formatCount(statistics.macs)) MACs → \(output)")
  }

  private func writeAtomically(_ text: String, to url: URL) throws {
    do {
      try Data(text.utf8).write(to: url, options: .atomic)
    } catch {
      throw ValidationError("cannot write \(url.path): \(error.localizedDescription)")
    }
  }
}
