import Testing
import Tracer
@testable import Codegen
import Models

/// With no annotation in any model, the attention patterns PatternSet discovers are exactly the
/// model's attention sites.
@Suite struct AttentionDiscoveryTests {
  static func attentions(_ model: String, _ overrides: [String: String] = [:]) throws -> [AttentionMatch] {
    let (family, config) = try ModelRegistry.resolve(model)
    let graph = try family.trace(config: config, overrides: overrides).optimized()
    return PatternSet(discoveringIn: graph).attentions
  }

  @Test(arguments: [("dit-tiny", 2), ("dit-s-2", 12), ("dit-xl-2", 28)])
  func ditHasOneAttentionPerBlock(model: String, depth: Int) throws {
    #expect(try Self.attentions(model).count == depth)
  }

  @Test func mmditHasOneJointAttentionPerDoubleAndSingleBlock() throws {
    let matches = try Self.attentions("mmdit-small", ["doubleBlocks": "3", "singleBlocks": "2"])
    #expect(matches.count == 5)
    // Joint attention runs over text and image tokens together.
    #expect(matches.allSatisfy { $0.queryLength == $0.keyLength && $0.queryLength == 64 + 256 })
  }

  @Test func videoDiTHasSelfAndCrossAttentionPerBlock() throws {
    let matches = try Self.attentions("video-dit-small", ["layers": "3"])
    #expect(matches.count == 6)
    let cross = matches.filter { $0.queryLength != $0.keyLength }
    #expect(cross.count == 3)
    #expect(cross.allSatisfy { $0.keyLength == 64 })  // the text tokens
  }

  @Test func vaeDecoderHasItsMidBlockAttention() throws {
    let matches = try Self.attentions("sd-vae-decoder")
    #expect(matches.count == 1)
    #expect(matches.first?.queryLength == 32 * 32)
  }

  @Test(arguments: ["llama-small-prefill", "llama-small-decode"])
  func llamaHasOneAttentionPerLayer(model: String) throws {
    let matches = try Self.attentions(model, ["layers": "5"])
    #expect(matches.count == 5)
  }
}
