import KilnTestSupport
import Testing
import Tracer
@testable import Models

@Suite struct VAEDecoderTests {
  let family = ModelRegistry.family(named: "sd-vae-decoder")

  /// diffusers' `AutoencoderKL` decoder layout (plus `post_quant_conv`), written out from the
  /// architecture: every checkpoint tensor name with its shape.
  static func checkpointLayout(blockOutChannels: [Int], layersPerBlock: Int, latentChannels: Int,
                               outChannels: Int) -> [String: [Int]] {
    var layout: [String: [Int]] = [:]
    func conv(_ name: String, _ input: Int, _ output: Int, _ kernel: Int) {
      layout[name + ".weight"] = [output, input, kernel, kernel]
      layout[name + ".bias"] = [output]
    }
    func norm(_ name: String, _ channels: Int) {
      layout[name + ".weight"] = [channels]
      layout[name + ".bias"] = [channels]
    }
    func resnet(_ name: String, _ input: Int, _ output: Int) {
      norm(name + ".norm1", input)
      conv(name + ".conv1", input, output, 3)
      norm(name + ".norm2", output)
      conv(name + ".conv2", output, output, 3)
      if input != output { conv(name + ".conv_shortcut", input, output, 1) }
    }
    let reversed = Array(blockOutChannels.reversed())
    conv("post_quant_conv", latentChannels, latentChannels, 1)
    conv("decoder.conv_in", latentChannels, reversed[0], 3)
    resnet("decoder.mid_block.resnets.0", reversed[0], reversed[0])
    norm("decoder.mid_block.attentions.0.group_norm", reversed[0])
    for projection in ["to_q", "to_k", "to_v", "to_out.0"] {
      layout["decoder.mid_block.attentions.0.\(projection).weight"] = [reversed[0], reversed[0]]
      layout["decoder.mid_block.attentions.0.\(projection).bias"] = [reversed[0]]
    }
    resnet("decoder.mid_block.resnets.1", reversed[0], reversed[0])
    var previous = reversed[0]
    for (block, width) in reversed.enumerated() {
      for layer in 0...layersPerBlock {
        resnet("decoder.up_blocks.\(block).resnets.\(layer)", layer == 0 ? previous : width, width)
      }
      if block < reversed.count - 1 { conv("decoder.up_blocks.\(block).upsamplers.0.conv", width, width, 3) }
      previous = width
    }
    norm("decoder.conv_norm_out", reversed[reversed.count - 1])
    conv("decoder.conv_out", reversed[reversed.count - 1], outChannels, 3)
    return layout
  }

  /// The SD decoder's parameters, summed layer by layer from the architecture.
  static let sdDecoderParameters: Int = {
    func conv(_ input: Int, _ output: Int, _ kernel: Int) -> Int { output * input * kernel * kernel + output }
    func norm(_ channels: Int) -> Int { 2 * channels }
    func resnet(_ input: Int, _ output: Int) -> Int {
      norm(input) + conv(input, output, 3) + norm(output) + conv(output, output, 3)
        + (input == output ? 0 : conv(input, output, 1))
    }
    let attention = norm(512) + 4 * (512 * 512 + 512)
    var total = conv(4, 4, 1) + conv(4, 512, 3) + 2 * resnet(512, 512) + attention
    var previous = 512
    for (block, width) in [512, 512, 256, 128].enumerated() {
      total += resnet(previous, width) + 2 * resnet(width, width)
      if block < 3 { total += conv(width, width, 3) }
      previous = width
    }
    return total + norm(128) + conv(128, 3, 3)
  }()

  /// Multiply-accumulates of the SD decoder on a side×side latent: every convolution at the
  /// resolution it runs at, plus the mid-block attention's projections, scores and weighted sum.
  static func sdDecoderMACs(latentSide side: Int) -> Int {
    func conv(_ input: Int, _ output: Int, _ kernel: Int, side: Int) -> Int { side * side * output * input * kernel * kernel }
    func resnet(_ input: Int, _ output: Int, side: Int) -> Int {
      conv(input, output, 3, side: side) + conv(output, output, 3, side: side)
        + (input == output ? 0 : conv(input, output, 1, side: side))
    }
    let positions = side * side
    let attention = 4 * positions * 512 * 512 + 2 * positions * positions * 512
    var total = conv(4, 4, 1, side: side) + conv(4, 512, 3, side: side) + 2 * resnet(512, 512, side: side) + attention
    var (previous, current) = (512, side)
    for (block, width) in [512, 512, 256, 128].enumerated() {
      total += resnet(previous, width, side: current) + 2 * resnet(width, width, side: current)
      if block < 3 {
        current *= 2
        total += conv(width, width, 3, side: current)
      }
      previous = width
    }
    return total + conv(128, 3, 3, side: current)
  }

  @Test func sdDecoderParameterCountEqualsPublishedFigure() throws {
    let graph = try #require(family).trace(config: "sd")
    // The published figure for the SD VAE decoder with post_quant_conv: 49.49 M.
    #expect((Double(Self.sdDecoderParameters) / 1e4).rounded() / 100 == 49.49)
    #expect(GraphStatistics(graph).params == Self.sdDecoderParameters)
    #expect(Self.sdDecoderParameters == 49_490_199)
  }

  @Test func sdDecoderParamNamesAndShapesMatchDiffusersLayout() throws {
    let graph = try #require(family).trace(config: "sd")
    let traced = Dictionary(graph.params.map { ($0.name, graph[$0.node].shape.dims) }, uniquingKeysWith: { first, _ in first })
    #expect(traced.count == graph.params.count, "a parameter name is declared twice")
    let expected = Self.checkpointLayout(blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2,
                                         latentChannels: 4, outChannels: 3)
    #expect(Set(traced.keys).subtracting(expected.keys).sorted() == [])
    #expect(Set(expected.keys).subtracting(traced.keys).sorted() == [])
    for (name, shape) in expected { #expect(traced[name] == shape, "\(name)") }
  }

  @Test func sdDecoderMACsAtLatent32MatchPublished311G() throws {
    let graph = try #require(family).trace(config: "sd")
    let formula = Self.sdDecoderMACs(latentSide: 32)
    #expect(GraphStatistics(graph).macs == formula)
    // ≈ 311 G MACs (≈ 622 GFLOP) for a 32×32 latent → 256×256 image.
    #expect(abs(Double(formula) - 311e9) <= 0.02 * 311e9, "formula gives \(formula) MACs")
  }

  @Test func sd512MACsMatchFormulaAtLatent64() throws {
    let graph = try #require(family).trace(config: "sd-512")
    let formula = Self.sdDecoderMACs(latentSide: 64)
    #expect(GraphStatistics(graph).macs == formula)
  }

  @Test func everyConfigTracesVerifiesAndNamesEveryNode() throws {
    let family = try #require(family)
    #expect(family.defaultConfig == "sd")
    for config in family.configNames {
      let graph = try family.trace(config: config)
      try graph.verify()
      #expect(GraphCounts.unscopedNodes(of: graph) == [], "\(config)")
      #expect(graph.params.allSatisfy { !$0.name.isEmpty && !$0.name.hasPrefix(".") && !$0.name.hasSuffix(".") }, "\(config)")
      #expect(Set(graph.params.map(\.name)).count == graph.params.count, "\(config): a parameter name is declared twice")
      #expect(graph.inputs.map(\.name) == ["latent"])
      #expect(graph.outputs.map(\.name) == ["sample"])
    }
  }

  @Test func outputIsEightTimesTheLatentSidesWithThreeChannels() throws {
    let family = try #require(family)
    let expected: [String: Shape] = ["sd": [1, 3, 256, 256], "sd-512": [1, 3, 512, 512], "tiny": [1, 3, 16, 24]]
    for (config, shape) in expected {
      let graph = try family.trace(config: config)
      #expect(graph[graph.outputs[0].node].shape == shape, "\(config)")
    }
  }

  @Test func tinyLayoutMatchesDiffusersNamingAtItsOwnWidths() throws {
    let graph = try #require(family).trace(config: "tiny")
    let traced = Dictionary(graph.params.map { ($0.name, graph[$0.node].shape.dims) }, uniquingKeysWith: { first, _ in first })
    let expected = Self.checkpointLayout(blockOutChannels: [16, 16, 32, 32], layersPerBlock: 2, latentChannels: 4, outChannels: 3)
    #expect(traced == expected)
    #expect(traced["decoder.up_blocks.2.resnets.0.conv_shortcut.weight"] == [16, 32, 1, 1])
  }

  @Test func overridesChangeLatentBatchAndWidths() throws {
    let family = try #require(family)
    let graph = try family.trace(config: "tiny", overrides: [
      "latentHeight": "3", "latentWidth": "5", "batch": "2", "blockOutChannels": "8, 16, 24",
    ])
    try graph.verify()
    #expect(graph[graph.outputs[0].node].shape == [2, 3, 12, 20])
    #expect(graph.params.contains { $0.name == "decoder.up_blocks.1.upsamplers.0.conv.weight" })
    #expect(!graph.params.contains { $0.name.hasPrefix("decoder.up_blocks.2.upsamplers") })
  }

  @Test func configsThatCannotWorkAreRefused() throws {
    let family = try #require(family)
    for overrides in [["blockOutChannels": "128,abc"], ["blockOutChannels": ""], ["blockOutChannels": "12,16"],
                      ["groups": "0"], ["latentHeight": "0"]] {
      #expect(throws: ModelError.self, "\(overrides)") { try family.trace(config: "tiny", overrides: overrides) }
    }
  }
}
