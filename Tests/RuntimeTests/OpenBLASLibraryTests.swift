import Codegen
@testable import Runtime
import Testing

@Suite struct OpenBLASCoreTypeTests {
  @Test func userEnvironmentIsLeftAlone() {
    let request = OpenBLASCoreTypeRequest.decide(environment: ["OPENBLAS_CORETYPE": "Zen"], profileCoreType: "SkylakeX")
    #expect(request == OpenBLASCoreTypeRequest(valueToSet: nil, source: .environment))
  }

  @Test func unsetEnvironmentTakesTheProfilesCoreType() {
    let request = OpenBLASCoreTypeRequest.decide(environment: ["PATH": "/usr/bin"], profileCoreType: "SkylakeX")
    #expect(request == OpenBLASCoreTypeRequest(valueToSet: "SkylakeX", source: .profile("SkylakeX")))
  }

  @Test func emptyEnvironmentValueCountsAsUnset() {
    let request = OpenBLASCoreTypeRequest.decide(environment: ["OPENBLAS_CORETYPE": ""], profileCoreType: "Haswell")
    #expect(request.valueToSet == "Haswell")
  }

  @Test func profileWithoutCoreTypeLeavesDetectionToOpenBLAS() {
    let request = OpenBLASCoreTypeRequest.decide(environment: [:], profileCoreType: nil)
    #expect(request == OpenBLASCoreTypeRequest(valueToSet: nil, source: .openBLASDetection))
  }

  @Test func builtinProfilesNameTheirCoreTypes() throws {
    let coreTypes = Dictionary(uniqueKeysWithValues: try HardwareProfile.builtins().map { ($0.name, $0.openBLASCoreType ?? "none") })
    #expect(coreTypes == ["x86-64-avx512": "SkylakeX", "x86-64-avx2": "Haswell", "aarch64-neon": "ARMV8", "generic": "none"])
  }

  @Test func loadedLibraryReportsItsCoreName() throws {
    let library = try OpenBLASLibrary.shared()
    #expect(!library.coreName.isEmpty)
    #expect(!library.configuration.isEmpty)
    #expect(library.summary.contains(library.coreName))
  }

  /// Once the library is in the process, asking for another core type cannot work: the report
  /// says the library was loaded earlier and which core it runs, rather than the request.
  @Test func laterLoadReportsTheCoreAlreadyInUse() throws {
    let first = try OpenBLASLibrary.shared()
    let other = first.coreName.lowercased() == "haswell" ? "SkylakeX" : "Haswell"
    let later = try OpenBLASLibrary.load(profileCoreType: other, environment: [:])
    #expect(later.coreTypeSource == .loadedEarlier)
    #expect(later.coreName == first.coreName)
    #expect(later.summary.contains("already loaded"))
    #expect(later.summary.contains("asked for \(other), OpenBLAS uses \(first.coreName)"))
  }
}
