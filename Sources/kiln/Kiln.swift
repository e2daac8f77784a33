import ArgumentParser

@main
struct Kiln: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kiln",
    abstract: "A tracing kernel compiler and benchmark suite for generative-media models on CPUs.",
    subcommands: [
      ModelsCommand.self, Trace.self, Show.self, Profile.self, TopologyCommand.self, Compile.self, Run.self, Generate.self,
      BenchCommand.self, ReportCommand.self,
    ]
  )
}
