import Bench
import Foundation
import KilnTestSupport
import Runtime
import Testing
import Tracer

/// Whether `make peers` (or `$KILN_PEERS_PYTHON`) provides ONNX Runtime and OpenVINO here.
let peersAreInstalled = PeerEnvironment.isAvailable

/// Exports `graph` with `weights`, runs each peer on `inputs` through the persistent harness, and
/// returns what the harness reports, parity measured against the Double reference interpreter.
func peerLoads(
  _ graph: Graph, weights: [String: RuntimeTensor], inputs: [String: RuntimeTensor], peers: [Peer]
) throws -> [PeerLoad] {
  let reference = try referenceOutputs(graph, weights: weights, inputs: inputs)
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-peers-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: directory) }
  let runner = try PeerRunner(graph: graph, weights: weights, inputs: inputs, reference: reference, peers: peers,
                              threads: 1, warmup: 0, workDirectory: directory)
  defer { runner.close() }
  for load in runner.loads where load.error == nil {
    let peer = try #require(Peer(rawValue: load.name))
    let samples = try runner.run(peer, repetitions: 2)
    #expect(samples.count == 2 && samples.allSatisfy { $0 > 0 }, "\(load.name): samples \(samples)")
  }
  return runner.loads
}

/// Checks that every peer loaded, ran with one thread in f32, and matches the reference within 1e-4.
func expectParity(_ loads: [PeerLoad], peers: [Peer], _ what: String) {
  #expect(loads.map(\.name) == peers.map(\.rawValue), "\(what)")
  for load in loads {
    #expect(load.error == nil, "\(what) on \(load.name): \(load.error ?? "")")
    guard let parity = load.parity else {
      Issue.record("\(what) on \(load.name): no parity reported")
      continue
    }
    #expect(parity.relativeError <= 1e-4, "\(what) on \(load.name): relative error \(parity.relativeError)")
    #expect(parity.passed && load.timingsTrusted == true, "\(what) on \(load.name)")
    switch load.name {
    case Peer.onnxruntime.rawValue:
      #expect(load.settings?["intra_op_num_threads"] == "1" && load.settings?["inter_op_num_threads"] == "1", "\(load.settings ?? [:])")
    case Peer.openvino.rawValue:
      #expect(load.settings?["INFERENCE_NUM_THREADS"] == "1" && load.settings?["INFERENCE_PRECISION_HINT"] == "f32",
              "\(load.settings ?? [:])")
    default:
      Issue.record("unexpected peer \(load.name)")
    }
  }
}

/// The Double reference interpreter's outputs, rounded to f32 as a runtime would hold them.
func referenceOutputs(_ graph: Graph, weights: [String: RuntimeTensor], inputs: [String: RuntimeTensor]) throws
  -> [String: RuntimeTensor]
{
  func host(_ tensor: RuntimeTensor) throws -> HostTensor {
    try HostTensor(shape: tensor.shape, values: tensor.floats.map(Double.init))
  }
  let outputs = try ReferenceInterpreter.evaluate(graph, inputs: inputs.mapValues(host), params: weights.mapValues(host))
  return try outputs.mapValues { try RuntimeTensor(shape: $0.shape, floats: $0.values.map(Float.init)) }
}

/// A HostTensor as the runtime tensor of the dtype its graph node declares.
func runtimeTensor(_ tensor: HostTensor, dtype: DType) throws -> RuntimeTensor {
  dtype == .i32
    ? try RuntimeTensor(shape: tensor.shape, storage: .i32(tensor.values.map { Int32($0) }))
    : try RuntimeTensor(shape: tensor.shape, floats: tensor.values.map(Float.init))
}

/// `randomFeeds` of `graph` as runtime tensors: (weights, inputs).
func randomRuntimeFeeds(_ graph: Graph, seed: UInt64) throws -> (weights: [String: RuntimeTensor], inputs: [String: RuntimeTensor]) {
  let feeds = randomFeeds(for: graph, seed: seed)
  var dtypes: [String: DType] = [:]
  for node in graph.nodes {
    switch node.op {
    case .input(let name), .param(let name): dtypes[name] = node.dtype
    default: continue
    }
  }
  func convert(_ tensors: [String: HostTensor]) throws -> [String: RuntimeTensor] {
    try Dictionary(uniqueKeysWithValues: tensors.map { ($0.key, try runtimeTensor($0.value, dtype: dtypes[$0.key] ?? .f32)) })
  }
  return (try convert(feeds.params), try convert(feeds.inputs))
}
