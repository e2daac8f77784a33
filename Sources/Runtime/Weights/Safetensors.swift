import Foundation
import Tracer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types a safetensors file may hold that Kiln reads. Floating-point tensors load as f32;
/// integer tensors (index tables) load as i32.
public enum SafetensorsDType: String, CaseIterable, Sendable {
  case f32 = "F32"
  case f16 = "F16"
  case bf16 = "BF16"
  case i32 = "I32"
  case i64 = "I64"

  public var byteSize: Int {
    switch self {
    case .f16, .bf16: return 2
    case .f32, .i32: return 4
    case .i64: return 8
    }
  }

  public var isFloatingPoint: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// One tensor described by a safetensors header; `byteRange` is relative to the data section.
public struct SafetensorsEntry: Sendable, Equatable {
  public var name: String
  public var dtype: SafetensorsDType
  public var shape: Shape
  public var byteRange: Range<Int>
}

/// A safetensors file, memory-mapped read-only for as long as the value lives. The header is
/// validated when the file is opened (length, JSON, every dtype, shape and offset), so reading a
/// tensor afterwards cannot go outside the mapping.
public final class SafetensorsFile {
  /// Headers beyond this are refused: real checkpoints' headers are a few MiB at most.
  public static let maxHeaderBytes = 100 << 20

  public let url: URL
  /// Every tensor, by name.
  public let entries: [String: SafetensorsEntry]
  /// `__metadata__`, when the file has one.
  public let metadata: [String: String]

  private let mapping: UnsafeMutableRawPointer?
  private let mappedLength: Int
  private let dataStart: Int

  public init(contentsOf url: URL) throws(RuntimeError) {
    self.url = url
    let name = url.lastPathComponent
    let descriptor = open(url.path, O_RDONLY)
    guard descriptor >= 0 else {
      throw RuntimeError.invalidWeights("cannot open \(url.path): \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      throw RuntimeError.invalidWeights("cannot read the size of \(url.path): \(String(cString: strerror(errno)))")
    }
    guard (status.st_mode & S_IFMT) == S_IFREG else { throw RuntimeError.invalidWeights("\(url.path) is not a regular file") }
    let size = Int(status.st_size)
    guard size >= 8 else {
      throw RuntimeError.invalidWeights("\(name) is truncated: \(size) bytes, shorter than the 8-byte header length")
    }
    guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
      throw RuntimeError.invalidWeights("cannot map \(url.path): \(String(cString: strerror(errno)))")
    }
    let bytes = UnsafeRawBufferPointer(start: mapped, count: size)
    do {
      let header = try Self.parseHeader(bytes, fileName: name)
      self.entries = header.entries
      self.metadata = header.metadata
      self.dataStart = header.dataStart
    } catch {
      munmap(mapped, size)
      throw error
    }
    self.mapping = mapped
    self.mappedLength = size
  }

  deinit {
    if let mapping { munmap(mapping, mappedLength) }
  }

  /// Tensor names in the order their data lies in the file.
  public var names: [String] { entries.values.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }.map(\.name) }

  /// The named tensor, floating-point types converted to f32, I32 kept, I64 narrowed to i32 (refused
  /// when a value does not fit).
  public func tensor(named name: String) throws(RuntimeError) -> RuntimeTensor {
    guard let entry = entries[name] else {
      throw RuntimeError.invalidWeights("\(url.lastPathComponent) has no tensor '\(name)'")
    }
    return try tensor(entry)
  }

  /// The tensor `entry` describes; `entry` must come from this file's `entries`.
  public func tensor(_ entry: SafetensorsEntry) throws(RuntimeError) -> RuntimeTensor {
    // Only this file's validated entries may address the mapping.
    guard entries[entry.name] == entry else {
      throw RuntimeError.invalidWeights("\(url.lastPathComponent) has no tensor '\(entry.name)' at bytes \(entry.byteRange)")
    }
    let count = entry.shape.elementCount
    let raw = UnsafeRawBufferPointer(
      rebasing: UnsafeRawBufferPointer(start: mapping, count: mappedLength)[(dataStart + entry.byteRange.lowerBound)..<(dataStart + entry.byteRange.upperBound)])
    switch entry.dtype {
    case .f32:
      // Safetensors is little-endian, as every host Kiln targets (x86-64, AArch64): a plain copy.
      var values = [Float](repeating: 0, count: count)
      values.withUnsafeMutableBytes { $0.copyMemory(from: raw) }
      return try RuntimeTensor(shape: entry.shape, storage: .f32(values))
    case .f16:
      let values = (0..<count).map { Float(f16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
      return try RuntimeTensor(shape: entry.shape, storage: .f32(values))
    case .bf16:
      let values = (0..<count).map { Float(bf16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
      return try RuntimeTensor(shape: entry.shape, storage: .f32(values))
    case .i32:
      let values = (0..<count).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
      return try RuntimeTensor(shape: entry.shape, storage: .i32(values))
    case .i64:
      var values = [Int32]()
      values.reserveCapacity(count)
      for index in 0..<count {
        let value = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * index, as: Int64.self))
        guard let narrowed = Int32(exactly: value) else {
          throw RuntimeError.invalidWeights(
            "\(url.lastPathComponent): tensor '\(entry.name)' holds \(value) at element \(index), outside the i32 range")
        }
        values.append(narrowed)
      }
      return try RuntimeTensor(shape: entry.shape, storage: .i32(values))
    }
  }

  // MARK: - Header

  private struct Header {
    var entries: [String: SafetensorsEntry]
    var metadata: [String: String]
    var dataStart: Int
  }

  private static func parseHeader(_ bytes: UnsafeRawBufferPointer, fileName: String) throws(RuntimeError) -> Header {
    let declared = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
    guard declared <= UInt64(maxHeaderBytes) else {
      throw RuntimeError.invalidWeights("\(fileName): header length \(declared) exceeds the \(maxHeaderBytes >> 20) MiB limit")
    }
    guard declared <= UInt64(bytes.count - 8) else {
      throw RuntimeError.invalidWeights(
        "\(fileName): header length \(declared) is larger than the file (\(bytes.count) bytes); the file is truncated or not safetensors")
    }
    let headerLength = Int(declared)
    let headerData = Data(bytes[8..<(8 + headerLength)])
    let dataLength = bytes.count - 8 - headerLength
    let document: HeaderDocument
    do {
      document = try JSONDecoder().decode(HeaderDocument.self, from: headerData)
    } catch let problem as HeaderProblem {
      throw RuntimeError.invalidWeights("\(fileName): \(problem.message)")
    } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
      throw RuntimeError.invalidWeights("\(fileName): header is not a JSON object")
    } catch {
      throw RuntimeError.invalidWeights("\(fileName): header is not JSON")
    }
    var entries: [String: SafetensorsEntry] = [:]
    for raw in document.tensors {
      entries[raw.name] = try validated(raw, dataLength: dataLength, fileName: fileName)
    }
    let ordered = entries.values.sorted {
      ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound)
    }
    for (previous, next) in zip(ordered, ordered.dropFirst()) where previous.byteRange.overlaps(next.byteRange) {
      throw RuntimeError.invalidWeights(
        "\(fileName): tensors '\(previous.name)' (bytes \(previous.byteRange.lowerBound)..<\(previous.byteRange.upperBound)) "
          + "and '\(next.name)' (bytes \(next.byteRange.lowerBound)..<\(next.byteRange.upperBound)) overlap")
    }
    return Header(entries: entries, metadata: document.metadata, dataStart: 8 + headerLength)
  }

  private static func validated(_ raw: RawEntry, dataLength: Int, fileName: String) throws(RuntimeError) -> SafetensorsEntry {
    func refuse(_ message: String) -> RuntimeError {
      RuntimeError.invalidWeights("\(fileName): tensor '\(raw.name)': \(message)")
    }
    guard let dtype = SafetensorsDType(rawValue: raw.dtype) else {
      throw refuse("unsupported dtype \(raw.dtype) (Kiln reads \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    var elements = 1
    for dim in raw.shape {
      guard dim >= 0 else { throw refuse("shape \(raw.shape) has a negative dimension") }
      let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
      guard !overflow else { throw refuse("shape \(raw.shape) has too many elements") }
      elements = product
    }
    let (byteCount, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
    guard !overflow else { throw refuse("shape \(raw.shape) has too many bytes") }
    guard raw.dataOffsets.count == 2 else {
      throw refuse("data_offsets must be [begin, end], found \(raw.dataOffsets.count) numbers")
    }
    let (begin, end) = (raw.dataOffsets[0], raw.dataOffsets[1])
    guard begin >= 0, end >= begin else { throw refuse("data_offsets [\(begin), \(end)] is not a range") }
    guard end - begin == byteCount else {
      throw refuse("data_offsets [\(begin), \(end)] span \(end - begin) bytes, shape \(raw.shape) of \(dtype.rawValue) needs \(byteCount)")
    }
    guard end <= dataLength else {
      throw refuse("data_offsets [\(begin), \(end)] run past the data section (\(dataLength) bytes)")
    }
    return SafetensorsEntry(name: raw.name, dtype: dtype, shape: Shape(raw.shape), byteRange: begin..<end)
  }
}

// MARK: - Header decoding

/// A header member as written, before its values are checked against the file.
private struct RawEntry {
  var name: String
  var dtype: String
  var shape: [Int]
  var dataOffsets: [Int]
}

/// A refusal found while decoding, already phrased for the user (the file name is added later).
private struct HeaderProblem: Error {
  var message: String
}

private struct AnyKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(_ string: String) { stringValue = string }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

private struct HeaderDocument: Decodable {
  var tensors: [RawEntry] = []
  var metadata: [String: String] = [:]

  init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    for key in container.allKeys {
      if key.stringValue == "__metadata__" {
        guard let metadata = try? container.decode([String: String].self, forKey: key) else {
          throw HeaderProblem(message: "field __metadata__ must map strings to strings")
        }
        self.metadata = metadata
      } else {
        tensors.append(try Self.entry(in: container, key: key))
      }
    }
  }

  private static func entry(in container: KeyedDecodingContainer<AnyKey>, key: AnyKey) throws -> RawEntry {
    let name = key.stringValue
    guard let fields = try? container.nestedContainer(keyedBy: AnyKey.self, forKey: key) else {
      throw HeaderProblem(message: "tensor '\(name)' is not an object")
    }
    let known: Set = ["dtype", "shape", "data_offsets"]
    if let unknown = fields.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
      throw HeaderProblem(message: "tensor '\(name)' has an unknown field '\(unknown)'")
    }
    func field<Value: Decodable>(_ field: String, _ type: Value.Type, _ expected: String) throws -> Value {
      guard fields.contains(AnyKey(field)) else { throw HeaderProblem(message: "tensor '\(name)' has no field '\(field)'") }
      guard let value = try? fields.decode(type, forKey: AnyKey(field)) else {
        throw HeaderProblem(message: "tensor '\(name)': field '\(field)' must be \(expected)")
      }
      return value
    }
    return RawEntry(name: name,
                    dtype: try field("dtype", String.self, "a string"),
                    shape: try field("shape", [Int].self, "an array of integers"),
                    dataOffsets: try field("data_offsets", [Int].self, "an array of two integers"))
  }
}

// MARK: - Half-precision conversions

extension Float {
  /// IEEE 754 binary16 → binary32, exactly (every f16 value, subnormals included, is an f32 value).
  public init(f16Bits bits: UInt16) {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = Int(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    switch exponent {
    case 0:
      // Zero or subnormal: mantissa × 2⁻²⁴, exact in f32.
      let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
      self = sign == 0 ? magnitude : -magnitude
    case 0x1F:
      // Infinity, or NaN with its payload kept in the high mantissa bits.
      self = Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
      self = Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
    }
  }

  /// bfloat16 → binary32: bfloat16 is the high half of an f32.
  public init(bf16Bits bits: UInt16) {
    self = Float(bitPattern: UInt32(bits) << 16)
  }
}

// MARK: - Writing

/// Writes `tensors` as a safetensors file (f32 as F32, i32 as I32), atomically: a temporary file
/// beside `url`, then a rename, so a reader never sees half a file.
public func writeSafetensors(_ tensors: [(String, RuntimeTensor)], to url: URL, metadata: [String: String] = [:]) throws(RuntimeError) {
  var seen = Set<String>()
  for (name, _) in tensors {
    guard !name.isEmpty, name != "__metadata__" else { throw RuntimeError.invalidWeights("cannot write a tensor named '\(name)'") }
    guard seen.insert(name).inserted else { throw RuntimeError.invalidWeights("tensor '\(name)' is given twice") }
  }
  var header: [String: Any] = [:]
  if !metadata.isEmpty { header["__metadata__"] = metadata }
  var offset = 0
  for (name, tensor) in tensors {
    let byteCount = tensor.shape.elementCount * 4
    header[name] = [
      "dtype": tensor.dtype == .i32 ? "I32" : "F32",
      "shape": tensor.shape.dims,
      "data_offsets": [offset, offset + byteCount],
    ] as [String: Any]
    offset += byteCount
  }
  var headerBytes: Data
  do {
    headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
  } catch {
    throw RuntimeError.invalidWeights("cannot encode the header of \(url.lastPathComponent): \(error)")
  }
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  headerBytes.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8))
  var prefix = Data()
  withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { prefix.append(contentsOf: $0) }
  prefix.append(headerBytes)
  // Streamed tensor by tensor, in slices: checkpoints pass 2 GiB, which one write cannot carry,
  // and no second copy of the weights is built in memory.
  try writeAtomically(to: url) { handle in
    func write(_ bytes: UnsafeRawBufferPointer) throws {
      let slice = 1 << 28
      for start in stride(from: 0, to: bytes.count, by: slice) {
        try handle.write(contentsOf: Data(bytes[start..<min(start + slice, bytes.count)]))
      }
    }
    try prefix.withUnsafeBytes { try write($0) }
    for (_, tensor) in tensors {
      switch tensor.storage {
      // Little-endian hosts only (x86-64, AArch64), so the bytes go out as they are in memory.
      case .f32(let values): try values.withUnsafeBytes { try write($0) }
      case .i32(let values): try values.withUnsafeBytes { try write($0) }
      }
    }
  }
}

/// Writes a file through `body` into a temporary file in `url`'s folder, then renames it over
/// `url`, so a reader never sees a half-written file under the final name.
func writeAtomically(to url: URL, _ body: (FileHandle) throws -> Void) throws(RuntimeError) {
  let temporary = url.deletingLastPathComponent()
    .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).\(UUID().uuidString).tmp")
  guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
        let handle = try? FileHandle(forWritingTo: temporary) else {
    throw RuntimeError.invalidWeights("cannot create \(temporary.path)")
  }
  do {
    try body(handle)
    try handle.synchronize()
    try handle.close()
  } catch {
    try? handle.close()
    try? FileManager.default.removeItem(at: temporary)
    throw RuntimeError.invalidWeights("cannot write \(temporary.path): \(error.localizedDescription)")
  }
  guard rename(temporary.path, url.path) == 0 else {
    let reason = String(cString: strerror(errno))
    try? FileManager.default.removeItem(at: temporary)
    throw RuntimeError.invalidWeights("cannot rename \(temporary.path) to \(url.path): \(reason)")
  }
}
