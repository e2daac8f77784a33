// swift-tools-version:6.0
import PackageDescription

// The pipeline flows one way: Models ─trace─▶ Tracer (IR) ─lower─▶ Codegen ─▶ Runtime ─▶ Generation, Bench.
// Who may import whom is the table in DESIGN.md; `shared/tools/check-layering` enforces it.
let package = Package(
  name: "Kiln",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "kiln", targets: ["kiln"]),
    .library(name: "Tracer", targets: ["Tracer"]),
    .library(name: "Models", targets: ["Models"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    // MARK: - Compiler pipeline

    /// IR (graph, ops, shapes), the tracing DSL, passes, JSON form, printers, reference interpreter.
    .target(name: "Tracer"),
    /// Reference models written with the DSL, their configs and checkpoint naming.
    .target(name: "Models", dependencies: ["Tracer"]),
    /// Hardware profiles, pattern matching and lowering, C templates, emitter, compiler driver, kernel cache.
    .target(
      name: "Codegen",
      dependencies: ["Tracer"],
      resources: [
        // Built-in hardware profiles (JSON), the ceiling microbenchmark's C source, the kernel templates.
        .copy("Profiles/builtin"),
        .copy("Measure/csrc"),
        .copy("Templates"),
      ]
    ),
    /// NUMA topology, thread team, arenas, module loading, executors, weights.
    .target(name: "Runtime", dependencies: ["Tracer", "Codegen", "CNUMA", "COpenBLAS"]),
    /// Samplers, guidance, image and video pipelines, PNG and video writers.
    .target(name: "Generation", dependencies: ["Tracer", "Models", "Codegen", "Runtime", "CPNG", "CGIF"]),
    /// Suites, measurement harness, statistics, roofline, reports.
    .target(name: "Bench", dependencies: ["Tracer", "Models", "Codegen", "Runtime", "Generation"]),

    // MARK: - Command-line interface

    .executableTarget(
      name: "kiln",
      dependencies: [
        "Tracer", "Models", "Codegen", "Runtime", "Generation", "Bench",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),

    // MARK: - C shims (system libraries)

    .systemLibrary(name: "CNUMA", pkgConfig: nil, providers: [.apt(["libnuma-dev"])]),
    .systemLibrary(name: "COpenBLAS", pkgConfig: nil, providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CPNG", pkgConfig: nil, providers: [.apt(["libpng-dev"])]),
    .systemLibrary(name: "CGIF", pkgConfig: nil, providers: [.apt(["libgif-dev"])]),

    // MARK: - Tests

    /// Shared by every test target: tolerances, seeded random tensors with awkward sizes, reference helpers.
    .target(name: "KilnTestSupport", dependencies: ["Tracer"], path: "Tests/KilnTestSupport"),
    .testTarget(name: "TracerTests", dependencies: ["Tracer", "KilnTestSupport"]),
    .testTarget(name: "ModelsTests", dependencies: ["Models", "Tracer", "KilnTestSupport"]),
    /// The C kernel harness in `kernels/` is compiled and run by KernelTemplateTests, not by SwiftPM.
    .testTarget(name: "CodegenTests", dependencies: ["Codegen", "Tracer", "Models", "KilnTestSupport"], exclude: ["kernels"]),
    .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Tracer", "Codegen", "Models", "KilnTestSupport"]),
    .testTarget(name: "BenchTests", dependencies: ["Bench", "Runtime", "Codegen", "Tracer", "KilnTestSupport"]),
    /// ONNX Runtime and OpenVINO on Kiln's exported graphs; skipped where `make peers` has not run.
    .testTarget(name: "PeersTests", dependencies: ["Bench", "Runtime", "Models", "Tracer", "KilnTestSupport"]),
    .testTarget(
      name: "GenerationTests",
      dependencies: ["Generation", "Runtime", "Codegen", "Models", "Tracer", "KilnTestSupport", "CPNG"]),
    /// Runs the built `kiln` executable as a user would.
    .testTarget(name: "KilnCLITests", dependencies: ["kiln", "KilnTestSupport"]),
  ]
)
