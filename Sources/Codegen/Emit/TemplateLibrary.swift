import Foundation

/// Reads the C templates and assembles the prelude of an emitted module: the profile's vector
/// header and micro-kernel, then every template family, with the project's own `#include`s
/// inlined so the module is one self-contained translation unit. Inlining also makes the kernel
/// cache key (a hash of the source) change whenever a template changes.
public struct TemplateLibrary: Sendable {
  public let directory: URL

  public init(directory: URL) {
    self.directory = directory
  }

  /// The templates shipped with Codegen.
  public static func bundled() throws(CodegenError) -> TemplateLibrary {
    guard let directory = KernelTemplates.directory else {
      throw CodegenError.missingTemplates("the kernel templates are missing from Codegen's resources")
    }
    return TemplateLibrary(directory: directory)
  }

  /// The families every module includes, after the profile's own headers.
  static let families = ["common/gemm_macro.h", "common/attention.h", "common/rownorm.h", "common/conv2d.h",
                         "common/kiln_module.h"]

  /// Every template header for `profile`, inlined in dependency order, followed by a compile-time
  /// check that the micro-kernel's shape is the one the profile's data declares.
  public func prelude(for profile: HardwareProfile) throws(CodegenError) -> String {
    var included = Set<String>()
    var text = "/* ---- templates: \(profile.templateFolder) ---- */\n"
    for path in ["\(profile.templateFolder)/vector.h", "\(profile.templateFolder)/microkernel.h"] + Self.families {
      text += try inline(path, included: &included)
    }
    text += """
      _Static_assert(KILN_MR == \(profile.microKernel.mr) && KILN_NR == \(profile.microKernel.nr),
                     "profile \(profile.name) declares a \(profile.microKernel.mr)x\(profile.microKernel.nr) \
      micro-kernel; the template is KILN_MRxKILN_NR");

      """
    return text
  }

  private func inline(_ path: String, included: inout Set<String>) throws(CodegenError) -> String {
    let normalized = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: "/")).standardized.path
    guard included.insert(normalized).inserted else { return "" }
    let url = directory.appendingPathComponent(String(normalized.dropFirst()))
    guard let contents = try? String(contentsOf: url, encoding: .utf8) else {
      throw CodegenError.missingTemplates("cannot read template \(url.path)")
    }
    let folder = (normalized as NSString).deletingLastPathComponent
    var text = "/* ---- \(normalized.dropFirst()) ---- */\n"
    for line in contents.split(separator: "\n", omittingEmptySubsequences: false) {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("#include \""), let end = trimmed.dropFirst(10).firstIndex(of: "\"") {
        let target = String(trimmed.dropFirst(10)[..<end])
        text += try inline(folder + "/" + target, included: &included)
      } else {
        text += line + "\n"
      }
    }
    return text
  }
}
