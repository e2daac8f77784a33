/// The JSON form of a `Graph`, version 1.
///
/// ```
/// {
///   "kiln-graph": 1,
///   "nodes": [
///     {"id": 0, "op": "input", "operands": [], "shape": [2, 4, 32, 32], "dtype": "f32", "scope": "", "name": "latent"},
///     {"id": 1, "op": "param", "operands": [], "shape": [8, 4], "dtype": "f32", "scope": "proj", "name": "proj.weight"},
///     {"id": 2, "op": "constant", "operands": [], "shape": [], "dtype": "f32", "scope": "", "value": {"splat": 0.5}},
///     {"id": 3, "op": "mul", "operands": [0, 2], "shape": [2, 4, 32, 32], "dtype": "f32", "scope": ""},
///     ...
///   ],
///   "outputs": [
///     {"name": "noise_pred", "node": 3}
///   ]
/// }
/// ```
///
/// - `kiln-graph`: the format version, the integer 1. A reader refuses any other version.
/// - `nodes`: at least one node, in SSA order. Each node has exactly these members:
///   - `id`: its index in `nodes`;
///   - `op`: the op kind word (`Op.kind`): `input`, `param`, `constant`, a unary op (`neg`, `exp`, …),
///     a binary op (`add`, `sub`, `mul`, `div`, `max`, `min`, `pow`), `reduce_sum`, `reduce_max`,
///     `reduce_mean`, `matmul`, `reshape`, `permute`, `slice`, `concat`, `expand`, `conv2d`,
///     `upsample_nearest`, `gather`;
///   - `operands`: ids of earlier nodes (empty for leaves);
///   - `shape`: the dimensions, each an integer ≥ 1 (`[]` for a scalar), at most
///     `ShapeInference.maxElementCount` elements; for non-leaves it must equal the inferred shape;
///   - `dtype`: `f32`, `f16`, `bf16` or `i32`;
///   - `scope`: where the node was traced (may be empty);
///   - the op's attributes as named members:
///     - `input`, `param`: `"name"` (string);
///     - `constant`: `"value"`, one of `{"splat": x}`, `{"arange": {"start": a, "step": s}}`,
///       `{"dense": [x, …]}` with one value per element, row-major; every number finite;
///     - `reduce_*`, `concat`: `"axis"` (negative counts from the end);
///     - `reshape`, `expand`: `"target"` (the result's dimensions);
///     - `permute`: `"order"`;
///     - `slice`: `"axis"`, `"start"`, `"end"` (elements `start..<end`);
///     - `conv2d`: `"stride"` and `"padding"` (two integers each), `"groups"`;
///     - `upsample_nearest`: `"scale"`.
/// - `outputs`: named results, `{"name": …, "node": id}`, names distinct.
///
/// Integers are written without fraction or exponent and must fit a 64-bit Int; Doubles are
/// written in Swift's shortest round-trip form, so reading gives back the same bits. The writer
/// emits members in the order above, one node per line, so writing the same graph twice gives the
/// same bytes and two graphs diff line by line. Unknown members are refused rather than ignored:
/// a newer format gets a new version number.
import Foundation

extension Graph {
  /// The version of the JSON form this Kiln writes and reads.
  public static let jsonFormatVersion = 1

  /// The graph as version-1 JSON text (see the top of this file). Verifies the graph first, so
  /// what is written can be read back.
  public func jsonData() throws(TracerError) -> Data {
    try verify()
    guard !nodes.isEmpty else { throw TracerError.invalidGraph("a graph needs at least one node to be written as JSON") }
    var text = "{\n  \"kiln-graph\": \(Graph.jsonFormatVersion),\n  \"nodes\": ["
    for (id, node) in nodes.enumerated() {
      text += (id == 0 ? "\n    " : ",\n    ") + Self.jsonObject(of: node, id: id)
    }
    text += "\n  ],\n  \"outputs\": ["
    for (index, output) in outputs.enumerated() {
      text += (index == 0 ? "\n    " : ",\n    ")
        + "{\"name\": \(JSONText.string(output.name)), \"node\": \(output.node)}"
    }
    text += outputs.isEmpty ? "]\n}\n" : "\n  ]\n}\n"
    return Data(text.utf8)
  }

  /// Reads a graph from version-1 JSON, refusing anything malformed with the path of the field
  /// at fault, then verifies it.
  public init(jsonData: Data) throws(TracerError) {
    let document: JSONValue
    do throws(JSONSyntaxError) {
      document = try JSONParser.parse([UInt8](jsonData))
    } catch {
      throw TracerError.malformedJSON(field: "", message: "not valid JSON at byte \(error.offset): \(error.message)")
    }
    self = try GraphJSONReader.graph(from: document)
    do throws(TracerError) {
      try verify()
    } catch {
      throw GraphJSONReader.fileError(from: error)
    }
  }

  /// Reads a graph from a version-1 JSON file; errors name the file.
  public init(contentsOf url: URL) throws(TracerError) {
    let data: Data
    do {
      data = try Data(contentsOf: url)
    } catch {
      throw TracerError.malformedJSON(field: url.path, message: "cannot read the file: \(Self.reason(error, url: url))")
    }
    do throws(TracerError) {
      try self.init(jsonData: data)
    } catch {
      guard case .malformedJSON(let field, let message) = error else { throw error }
      throw TracerError.malformedJSON(field: field.isEmpty ? url.path : url.path + ": " + field, message: message)
    }
  }

  /// Writes the graph's JSON to `url` atomically: a temporary file in the same directory, then a
  /// rename, so a reader never sees half a graph.
  public func write(to url: URL) throws(TracerError) {
    let data = try jsonData()
    let temporary = url.deletingLastPathComponent()
      .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    do {
      try data.write(to: temporary)
    } catch {
      throw TracerError.malformedJSON(field: url.path, message: "cannot write the file: \(Self.reason(error, url: temporary))")
    }
    guard rename(temporary.path, url.path) == 0 else {
      let reason = String(cString: strerror(errno))
      try? FileManager.default.removeItem(at: temporary)
      throw TracerError.malformedJSON(field: url.path, message: "cannot write the file: \(reason)")
    }
  }

  private static func reason(_ error: any Error, url: URL) -> String {
    var isDirectory: ObjCBool = false
    let directory = url.deletingLastPathComponent().path
    if !FileManager.default.fileExists(atPath: directory) { return "no such directory \(directory)" }
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
      if isDirectory.boolValue { return "it is a directory" }
    } else {
      return "no such file"
    }
    return (error as NSError).localizedDescription
  }

  private static func jsonObject(of node: Node, id: Int) -> String {
    var members = [
      ("id", String(id)),
      ("op", JSONText.string(node.op.kind)),
      ("operands", JSONText.integers(node.operands)),
      ("shape", JSONText.integers(node.shape.dims)),
      ("dtype", JSONText.string(node.dtype.rawValue)),
      ("scope", JSONText.string(node.scope)),
    ]
    members += jsonAttributes(of: node.op)
    return "{" + members.map { "\(JSONText.string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
  }

  private static func jsonAttributes(of op: Op) -> [(String, String)] {
    switch op {
    case .input(let name), .param(let name):
      return [("name", JSONText.string(name))]
    case .constant(let value):
      switch value {
      case .splat(let x):
        return [("value", "{\"splat\": \(JSONText.number(x))}")]
      case .arange(let start, let step):
        return [("value", "{\"arange\": {\"start\": \(JSONText.number(start)), \"step\": \(JSONText.number(step))}}")]
      case .dense(let values):
        return [("value", "{\"dense\": [" + values.map(JSONText.number).joined(separator: ", ") + "]}")]
      }
    case .unary, .binary, .matmul, .gather:
      return []
    case .reduce(_, let axis), .concat(let axis):
      return [("axis", String(axis))]
    case .reshape(let target), .expand(let target):
      return [("target", JSONText.integers(target))]
    case .permute(let order):
      return [("order", JSONText.integers(order))]
    case .slice(let axis, let start, let end):
      return [("axis", String(axis)), ("start", String(start)), ("end", String(end))]
    case .conv2d(let attributes):
      return [("stride", JSONText.integers(attributes.stride)), ("padding", JSONText.integers(attributes.padding)),
              ("groups", String(attributes.groups))]
    case .upsampleNearest(let scale):
      return [("scale", String(scale))]
    }
  }
}

/// Turns a parsed JSON document into a `Graph`, checking each field as it goes so the first
/// problem is reported with its path.
enum GraphJSONReader {
  static func fail(_ field: String, _ message: String) -> TracerError { .malformedJSON(field: field, message: message) }

  /// Maps an error of `Graph.verify` to the JSON field it concerns.
  static func fileError(from error: TracerError) -> TracerError {
    switch error {
    case .invalidOp(let node, _, let message): return fail(node.map { "nodes[\($0)]" } ?? "", message)
    case .invalidGraph(let message): return fail("", message)
    case .malformedJSON: return error
    case .missingValue(let message): return fail("", message)
    }
  }

  static func graph(from document: JSONValue) throws(TracerError) -> Graph {
    let top = try ObjectReader(document, path: "")
    try top.rejectUnknown(["kiln-graph", "nodes", "outputs"])
    guard let version = top.members["kiln-graph"] else {
      throw fail("kiln-graph", "missing: not a Kiln graph (this Kiln reads kiln-graph version \(Graph.jsonFormatVersion))")
    }
    try checkVersion(version, path: "kiln-graph")

    let nodeValues = try array(try top.required("nodes"), at: "nodes")
    guard !nodeValues.isEmpty else { throw fail("nodes", "a graph needs at least one node") }
    var nodes: [Node] = []
    nodes.reserveCapacity(nodeValues.count)
    for (id, value) in nodeValues.enumerated() {
      nodes.append(try node(from: value, id: id, nodeCount: nodeValues.count, earlier: nodes))
    }

    var outputs: [GraphOutput] = []
    var names = Set<String>()
    for (index, value) in try array(try top.required("outputs"), at: "outputs").enumerated() {
      let reader = try ObjectReader(value, path: "outputs[\(index)]")
      try reader.rejectUnknown(["name", "node"])
      let name = try string(try reader.required("name"), at: reader.path("name"))
      guard names.insert(name).inserted else { throw fail(reader.path("name"), "output name '\(name)' is used twice") }
      let node = try integer(try reader.required("node"), at: reader.path("node"))
      guard nodes.indices.contains(node) else {
        throw fail(reader.path("node"), "output '\(name)' names node \(node), but the graph has nodes 0..<\(nodes.count)")
      }
      outputs.append(GraphOutput(name: name, node: node))
    }
    return Graph(nodes: nodes, outputs: outputs)
  }

  private static func checkVersion(_ value: JSONValue, path: String) throws(TracerError) {
    let supported = Graph.jsonFormatVersion
    guard case .number(let text) = value else {
      throw fail(path, "expected the format version \(supported) (a number), got \(value.typeName)")
    }
    guard Int(text) == supported else {
      throw fail(path, "version \(text) is not supported; this Kiln reads kiln-graph version \(supported)")
    }
  }

  // MARK: Nodes

  private static let commonFields: Set<String> = ["id", "op", "operands", "shape", "dtype", "scope"]

  private static func node(from value: JSONValue, id: Int, nodeCount: Int, earlier: [Node]) throws(TracerError) -> Node {
    let reader = try ObjectReader(value, path: "nodes[\(id)]")
    let declaredID = try integer(try reader.required("id"), at: reader.path("id"))
    guard declaredID == id else { throw fail(reader.path("id"), "node ids must equal their index: expected \(id), got \(declaredID)") }

    let kind = try string(try reader.required("op"), at: reader.path("op"))
    guard let attributeFields = attributeFields(ofKind: kind) else {
      throw fail(reader.path("op"), "unknown op '\(kind)'")
    }
    try reader.rejectUnknown(commonFields.union(attributeFields))
    let op = try self.op(kind: kind, reader: reader)

    var operands: [Int] = []
    for (position, operandValue) in try array(try reader.required("operands"), at: reader.path("operands")).enumerated() {
      let path = reader.path("operands") + "[\(position)]"
      let operand = try integer(operandValue, at: path)
      guard operand >= 0 else { throw fail(path, "operand \(operand) is not a node id") }
      guard operand < nodeCount else {
        throw fail(path, "operand \(operand) names no node (the graph has nodes 0..<\(nodeCount))")
      }
      guard operand < id else {
        throw fail(path, "operand \(operand) refers forward; operands must refer to nodes before \(id)")
      }
      operands.append(operand)
    }
    if op.isLeaf, !operands.isEmpty { throw fail(reader.path("operands"), "\(kind) is a leaf and takes no operands") }

    let shape = try self.shape(try reader.required("shape"), at: reader.path("shape"))
    let dtypeName = try string(try reader.required("dtype"), at: reader.path("dtype"))
    guard let dtype = DType(rawValue: dtypeName) else {
      throw fail(reader.path("dtype"), "unknown dtype '\(dtypeName)' (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    let scope = try string(try reader.required("scope"), at: reader.path("scope"))

    if case .constant(.dense(let values)) = op, values.count != shape.elementCount {
      throw fail(reader.path("value") + ".dense", "has \(values.count) values, shape \(shape) needs \(shape.elementCount)")
    }
    if !op.isLeaf {
      try checkInferred(op, operands: operands, declared: (shape, dtype), earlier: earlier, reader: reader)
    }
    return Node(op: op, operands: operands, shape: shape, dtype: dtype, scope: scope)
  }

  private static func checkInferred(_ op: Op, operands: [Int], declared: (Shape, DType), earlier: [Node],
                                    reader: ObjectReader) throws(TracerError) {
    let operandTypes = operands.map { (earlier[$0].shape, earlier[$0].dtype) }
    if case .upsampleNearest(let scale) = op, let input = operandTypes.first {
      // Keeps the shape rule's multiplication from overflowing on a hostile scale.
      let (squared, overflowA) = scale.multipliedReportingOverflow(by: scale)
      let (total, overflowB) = input.0.elementCount.multipliedReportingOverflow(by: squared)
      guard !overflowA, !overflowB, total <= ShapeInference.maxElementCount else {
        throw fail(reader.path("scale"), "scale \(scale) makes the result larger than \(ShapeInference.maxElementCount) elements")
      }
    }
    let inferred: (Shape, DType)
    do throws(ShapeError) {
      inferred = try ShapeInference.infer(op, operands: operandTypes)
    } catch {
      throw fail(reader.path, "\(op.kind): \(error.message)")
    }
    guard inferred.0 == declared.0 else {
      throw fail(reader.path("shape"), "declared \(declared.0) but \(op.kind) of its operands gives \(inferred.0)")
    }
    guard inferred.1 == declared.1 else {
      throw fail(reader.path("dtype"), "declared \(declared.1.rawValue) but \(op.kind) of its operands gives \(inferred.1.rawValue)")
    }
  }

  /// The attribute members an op kind takes, or nil for an unknown kind.
  private static func attributeFields(ofKind kind: String) -> Set<String>? {
    switch kind {
    case "input", "param": return ["name"]
    case "constant": return ["value"]
    case "matmul", "gather": return []
    case "reshape", "expand": return ["target"]
    case "permute": return ["order"]
    case "slice": return ["axis", "start", "end"]
    case "concat": return ["axis"]
    case "conv2d": return ["stride", "padding", "groups"]
    case "upsample_nearest": return ["scale"]
    default:
      if UnaryOp(rawValue: kind) != nil || BinaryOp(rawValue: kind) != nil { return [] }
      if kind.hasPrefix("reduce_"), ReduceOp(rawValue: String(kind.dropFirst("reduce_".count))) != nil { return ["axis"] }
      return nil
    }
  }

  private static func op(kind: String, reader: ObjectReader) throws(TracerError) -> Op {
    func int(_ key: String) throws(TracerError) -> Int { try attributeInteger(try reader.required(key), at: reader.path(key)) }
    func ints(_ key: String) throws(TracerError) -> [Int] {
      let path = reader.path(key)
      let values = try array(try reader.required(key), at: path)
      guard values.count <= ShapeInference.maxRank else {
        throw fail(path, "has \(values.count) entries, more than the maximum rank \(ShapeInference.maxRank)")
      }
      var result: [Int] = []
      for (index, value) in values.enumerated() { result.append(try attributeInteger(value, at: path + "[\(index)]")) }
      return result
    }
    func name() throws(TracerError) -> String { try string(try reader.required("name"), at: reader.path("name")) }

    switch kind {
    case "input": return .input(try name())
    case "param": return .param(try name())
    case "constant": return .constant(try constantValue(try reader.required("value"), at: reader.path("value")))
    case "matmul": return .matmul
    case "gather": return .gather
    case "reshape": return .reshape(try shape(try reader.required("target"), at: reader.path("target")).dims)
    case "expand": return .expand(try shape(try reader.required("target"), at: reader.path("target")).dims)
    case "permute": return .permute(try ints("order"))
    case "slice": return .slice(axis: try int("axis"), start: try int("start"), end: try int("end"))
    case "concat": return .concat(axis: try int("axis"))
    case "conv2d":
      let stride = try ints("stride"), padding = try ints("padding")
      guard stride.count == 2 else { throw fail(reader.path("stride"), "expected two strides, got \(stride.count)") }
      guard padding.count == 2 else { throw fail(reader.path("padding"), "expected two paddings, got \(padding.count)") }
      return .conv2d(Conv2DAttributes(stride: stride, padding: padding, groups: try int("groups")))
    case "upsample_nearest": return .upsampleNearest(scale: try int("scale"))
    default:
      if let unary = UnaryOp(rawValue: kind) { return .unary(unary) }
      if let binary = BinaryOp(rawValue: kind) { return .binary(binary) }
      if kind.hasPrefix("reduce_"), let reduce = ReduceOp(rawValue: String(kind.dropFirst("reduce_".count))) {
        return .reduce(reduce, axis: try int("axis"))
      }
      throw fail(reader.path("op"), "unknown op '\(kind)'")
    }
  }

  private static func constantValue(_ value: JSONValue, at path: String) throws(TracerError) -> ConstantValue {
    let reader = try ObjectReader(value, path: path)
    guard reader.members.count == 1, let (form, inner) = reader.ordered.first else {
      throw fail(path, "expected exactly one of splat, arange or dense")
    }
    let innerPath = reader.path(form)
    switch form {
    case "splat":
      return .splat(try finiteDouble(inner, at: innerPath))
    case "arange":
      let arange = try ObjectReader(inner, path: innerPath)
      try arange.rejectUnknown(["start", "step"])
      return .arange(start: try finiteDouble(try arange.required("start"), at: arange.path("start")),
                     step: try finiteDouble(try arange.required("step"), at: arange.path("step")))
    case "dense":
      let elements = try array(inner, at: innerPath)
      var values: [Double] = []
      values.reserveCapacity(elements.count)
      for (index, element) in elements.enumerated() { values.append(try finiteDouble(element, at: innerPath + "[\(index)]")) }
      return .dense(values)
    default:
      throw fail(innerPath, "unknown constant form '\(form)' (expected splat, arange or dense)")
    }
  }

  // MARK: Typed fields

  private static func shape(_ value: JSONValue, at path: String) throws(TracerError) -> Shape {
    let elements = try array(value, at: path)
    guard elements.count <= ShapeInference.maxRank else {
      throw fail(path, "rank \(elements.count) exceeds the maximum of \(ShapeInference.maxRank)")
    }
    var dims: [Int] = []
    for (axis, element) in elements.enumerated() {
      let dim = try integer(element, at: path + "[\(axis)]")
      guard dim >= 1 else { throw fail(path + "[\(axis)]", "dimension \(dim) must be at least 1") }
      dims.append(dim)
    }
    do throws(ShapeError) { try ShapeInference.validate(Shape(dims)) } catch { throw fail(path, error.message) }
    return Shape(dims)
  }

  static func array(_ value: JSONValue, at path: String) throws(TracerError) -> [JSONValue] {
    guard case .array(let elements) = value else { throw fail(path, "expected an array, got \(value.typeName)") }
    return elements
  }

  static func string(_ value: JSONValue, at path: String) throws(TracerError) -> String {
    guard case .string(let text) = value else { throw fail(path, "expected a string, got \(value.typeName)") }
    return text
  }

  /// An integer written as one (no fraction, no exponent) that fits an Int exactly.
  static func integer(_ value: JSONValue, at path: String) throws(TracerError) -> Int {
    guard case .number(let text) = value else { throw fail(path, "expected an integer, got \(value.typeName)") }
    guard !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
      throw fail(path, "expected an integer, got \(text)")
    }
    guard let integer = Int(text) else { throw fail(path, "\(text) does not fit in a 64-bit integer") }
    return integer
  }

  /// An attribute integer (axis, bound, stride, padding, groups, scale): bounded by the largest
  /// tensor, so no shape rule can overflow on it.
  private static func attributeInteger(_ value: JSONValue, at path: String) throws(TracerError) -> Int {
    let integer = try integer(value, at: path)
    let limit = ShapeInference.maxElementCount
    guard integer.magnitude <= UInt(limit) else { throw fail(path, "\(integer) is out of range (magnitude above \(limit))") }
    return integer
  }

  private static func finiteDouble(_ value: JSONValue, at path: String) throws(TracerError) -> Double {
    guard case .number(let text) = value else { throw fail(path, "expected a number, got \(value.typeName)") }
    guard let double = Double(text), double.isFinite else { throw fail(path, "\(text) is not a finite Double") }
    return double
  }
}

/// The members of one JSON object, with the path used to name them in errors.
struct ObjectReader {
  let path: String
  let ordered: [(key: String, value: JSONValue)]
  let members: [String: JSONValue]

  init(_ value: JSONValue, path: String) throws(TracerError) {
    guard case .object(let ordered) = value else {
      throw GraphJSONReader.fail(path, "expected an object, got \(value.typeName)")
    }
    var members: [String: JSONValue] = [:]
    for (key, member) in ordered {
      guard members.updateValue(member, forKey: key) == nil else {
        throw GraphJSONReader.fail(Self.path(path, key), "appears twice")
      }
    }
    self.path = path
    self.ordered = ordered
    self.members = members
  }

  static func path(_ base: String, _ key: String) -> String { base.isEmpty ? key : base + "." + key }

  func path(_ key: String) -> String { Self.path(path, key) }

  func required(_ key: String) throws(TracerError) -> JSONValue {
    guard let value = members[key] else { throw GraphJSONReader.fail(path(key), "missing") }
    return value
  }

  func rejectUnknown(_ known: Set<String>) throws(TracerError) {
    for (key, _) in ordered where !known.contains(key) {
      throw GraphJSONReader.fail(path(key), "unknown field (expected: \(known.sorted().joined(separator: ", ")))")
    }
  }
}
