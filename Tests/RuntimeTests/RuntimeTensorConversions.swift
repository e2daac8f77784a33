import KilnTestSupport
import Runtime
import Tracer

/// Feeds drawn in Double for the interpreter, converted to what executors take.
func runtimeTensors(_ tensors: [String: HostTensor], dtypes: [String: DType]) throws -> [String: RuntimeTensor] {
  try tensors.mapValues { tensor in try RuntimeTensor(host: tensor, dtype: .f32) }
    .merging(try tensors.compactMap { name, tensor in
      dtypes[name] == .i32 ? (name, try RuntimeTensor(host: tensor, dtype: .i32)) : nil
    }, uniquingKeysWith: { _, indices in indices })
}

/// The dtype each input and param leaf of `graph` declares, by name.
func leafDTypes(_ graph: Graph) -> [String: DType] {
  var dtypes: [String: DType] = [:]
  for node in graph.nodes {
    switch node.op {
    case .input(let name), .param(let name): dtypes[name] = node.dtype
    default: continue
    }
  }
  return dtypes
}

extension RuntimeTensor {
  init(host: HostTensor, dtype: DType) throws {
    if dtype == .i32 {
      try self.init(shape: host.shape, storage: .i32(host.values.map { Int32($0) }))
    } else {
      try self.init(shape: host.shape, storage: .f32(host.values.map { Float($0) }))
    }
  }

  var host: HostTensor {
    get throws { try HostTensor(shape: shape, values: floats.map(Double.init)) }
  }
}
