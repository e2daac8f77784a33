import Foundation
import Runtime
import Testing
import Tracer

@Suite struct SafetensorsTests {
  // MARK: - Malformed files: one line naming the field or tensor, never a crash

  @Test func truncatedFileIsRefusedAsShorterThanTheHeaderLength() throws {
    let folder = try ScratchFolder()
    let message = try refusal(opening: Data([1, 2, 3]), in: folder)
    #expect(message == "weights: model.safetensors is truncated: 3 bytes, shorter than the 8-byte header length")
  }

  @Test func headerLengthLargerThanTheFileIsRefused() throws {
    let folder = try ScratchFolder()
    let message = try refusal(opening: rawSafetensors(header: "{}", declaredLength: 4096), in: folder)
    #expect(message?.hasPrefix("weights: model.safetensors: header length 4096 is larger than the file (10 bytes)") == true,
            "\(message ?? "opened")")
  }

  @Test func headerBeyondTheSizeCapIsRefused() throws {
    let folder = try ScratchFolder()
    let length = SafetensorsFile.maxHeaderBytes + 1
    let data = rawSafetensors(header: "{}", declaredLength: UInt64(length))
    let message = try refusal(opening: data, in: folder)
    #expect(message == "weights: model.safetensors: header length \(length) exceeds the 100 MiB limit")
  }

  @Test func headerThatIsNotJSONIsRefused() throws {
    let folder = try ScratchFolder()
    #expect(try refusal(opening: rawSafetensors(header: "{\"a\": [1, 2"), in: folder) == "weights: model.safetensors: header is not JSON")
    #expect(try refusal(opening: rawSafetensors(header: "[1, 2]"), in: folder) == "weights: model.safetensors: header is not a JSON object")
  }

  @Test func offsetsPastTheDataSectionAreRefusedNamingTheTensor() throws {
    let folder = try ScratchFolder()
    let header = #"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#
    let message = try refusal(opening: rawSafetensors(header: header, data: bytes(ofFloats: [1, 2])), in: folder)
    #expect(message == "weights: model.safetensors: tensor 'w': data_offsets [4, 12] run past the data section (8 bytes)")
  }

  @Test func offsetsThatDisagreeWithTheShapeAreRefused() throws {
    let folder = try ScratchFolder()
    let header = #"{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#
    let message = try refusal(opening: rawSafetensors(header: header, data: bytes(ofFloats: [1, 2])), in: folder)
    #expect(message == "weights: model.safetensors: tensor 'w': data_offsets [0, 8] span 8 bytes, shape [3] of F32 needs 12")
  }

  @Test func overlappingTensorsAreRefusedNamingBoth() throws {
    let folder = try ScratchFolder()
    let header = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#
    let message = try refusal(opening: rawSafetensors(header: header, data: bytes(ofFloats: [1, 2, 3])), in: folder)
    #expect(message == "weights: model.safetensors: tensors 'a' (bytes 0..<8) and 'b' (bytes 4..<12) overlap")
  }

  @Test func unknownDtypeIsRefusedByName() throws {
    let folder = try ScratchFolder()
    let header = #"{"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}"#
    let message = try refusal(opening: rawSafetensors(header: header, data: [UInt8](repeating: 0, count: 8)), in: folder)
    #expect(message == "weights: model.safetensors: tensor 'w': unsupported dtype F64 (Kiln reads F32, F16, BF16, I32, I64)")
  }

  @Test func negativeOrFractionalShapesAndMissingFieldsAreRefused() throws {
    let folder = try ScratchFolder()
    let negative = #"{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}"#
    #expect(try refusal(opening: rawSafetensors(header: negative), in: folder)
      == "weights: model.safetensors: tensor 'w': shape [-1] has a negative dimension")
    let fractional = #"{"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#
    #expect(try refusal(opening: rawSafetensors(header: fractional, data: [0, 0, 0, 0]), in: folder)
      == "weights: model.safetensors: tensor 'w': field 'shape' must be an array of integers")
    let noOffsets = #"{"w": {"dtype": "F32", "shape": [1]}}"#
    #expect(try refusal(opening: rawSafetensors(header: noOffsets), in: folder)
      == "weights: model.safetensors: tensor 'w' has no field 'data_offsets'")
    let huge = #"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}}"#
    #expect(try refusal(opening: rawSafetensors(header: huge), in: folder)
      == "weights: model.safetensors: tensor 'w': shape [4294967296, 4294967296] has too many elements")
  }

  @Test func metadataMustMapStringsToStrings() throws {
    let folder = try ScratchFolder()
    let good = #"{"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}"#
    let url = folder.file("good.safetensors")
    try rawSafetensors(header: good, data: bytes(ofFloats: [7])).write(to: url)
    let file = try SafetensorsFile(contentsOf: url)
    #expect(file.metadata == ["format": "pt"])
    #expect(try file.tensor(named: "w") == RuntimeTensor(shape: [], floats: [7]))
    let bad = #"{"__metadata__": {"version": 2}}"#
    #expect(try refusal(opening: rawSafetensors(header: bad), in: folder)
      == "weights: model.safetensors: field __metadata__ must map strings to strings")
  }

  // MARK: - Round trip and decoding

  @Test func writtenF32AndI32TensorsReadBackBitForBit() throws {
    let folder = try ScratchFolder()
    let url = folder.file("out.safetensors")
    let weight = try RuntimeTensor(shape: [3, 5], floats: (0..<15).map { Float($0) * 0.37 - 2.1 } + [])
    let special = try RuntimeTensor(shape: [4], floats: [.infinity, -0.0, .leastNonzeroMagnitude, -.greatestFiniteMagnitude])
    let labels = try RuntimeTensor(shape: [2, 3], storage: .i32([0, -1, 7, Int32.max, Int32.min, 42]))
    let scalar = try RuntimeTensor(shape: [], floats: [3.5])
    try writeSafetensors([("blocks.0.weight", weight), ("special", special), ("labels", labels), ("scalar", scalar)],
                         to: url, metadata: ["format": "pt"])
    let file = try SafetensorsFile(contentsOf: url)
    #expect(Set(file.entries.keys) == ["blocks.0.weight", "special", "labels", "scalar"])
    #expect(file.names == ["blocks.0.weight", "special", "labels", "scalar"])
    #expect(file.metadata == ["format": "pt"])
    #expect(try file.tensor(named: "blocks.0.weight") == weight)
    #expect(try file.tensor(named: "labels") == labels)
    #expect(try file.tensor(named: "scalar") == scalar)
    let readSpecial = try file.tensor(named: "special").floats
    #expect(readSpecial.map(\.bitPattern) == special.floats.map(\.bitPattern))
    #expect(file.entries["labels"]?.dtype == .i32)
    // No temporary file is left beside the result.
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path) == ["out.safetensors"])
  }

  @Test func writerRefusesDuplicateNames() throws {
    let folder = try ScratchFolder()
    let tensor = try RuntimeTensor(shape: [1], floats: [1])
    let message = runtimeErrorMessage { () throws(RuntimeError) in
      try writeSafetensors([("a", tensor), ("a", tensor)], to: folder.file("x.safetensors"))
    }
    #expect(message == "weights: tensor 'a' is given twice")
  }

  @Test func f16BitPatternsDecodeExactly() {
    let cases: [(UInt16, Float)] = [
      (0x3C00, 1), (0xC000, -2), (0x3555, 0.333251953125), (0x7BFF, 65504),
      (0x0400, 0x1p-14),                 // smallest normal
      (0x0001, 0x1p-24),                 // smallest subnormal
      (0x03FF, 1023 * 0x1p-24),          // largest subnormal
      (0x8001, -0x1p-24),
      (0x7C00, .infinity), (0xFC00, -.infinity),
      (0x0000, 0),
    ]
    for (bits, expected) in cases {
      #expect(Float(f16Bits: bits) == expected, "f16 0x\(String(bits, radix: 16))")
    }
    #expect(Float(f16Bits: 0x8000).bitPattern == (-Float(0)).bitPattern)
    #expect(Float(f16Bits: 0x7E00).isNaN)
    #expect(Float(f16Bits: 0x7C01).isSignalingNaN)
    #expect(Float(f16Bits: 0xFE00).isNaN && Float(f16Bits: 0xFE00).sign == .minus)
  }

  @Test func bf16BitPatternsDecodeExactly() {
    let cases: [(UInt16, Float)] = [
      (0x3F80, 1), (0xC040, -3), (0x4049, 3.140625), (0x7F7F, 0x1.FEp127),
      (0x0080, 0x1p-126),  // smallest normal
      (0x0001, 0x1p-133),  // smallest subnormal
      (0x7F80, .infinity), (0xFF80, -.infinity),
    ]
    for (bits, expected) in cases {
      #expect(Float(bf16Bits: bits) == expected, "bf16 0x\(String(bits, radix: 16))")
    }
    #expect(Float(bf16Bits: 0x8000).bitPattern == (-Float(0)).bitPattern)
    #expect(Float(bf16Bits: 0x7FC0).isNaN)
  }

  @Test func halfPrecisionTensorsInAFileLoadAsF32() throws {
    let folder = try ScratchFolder()
    let header = #"{"h": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]}, "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [6, 10]}, "i": {"dtype": "I64", "shape": [2], "data_offsets": [10, 26]}}"#
    var data: [UInt8] = [0x00, 0x3C, 0x01, 0x00, 0x00, 0xFC]  // 1, 2⁻²⁴, -inf (little-endian)
    data += [0x80, 0x3F, 0x40, 0xC0]                          // 1, -3
    data += withUnsafeBytes(of: Int64(5).littleEndian, Array.init) + withUnsafeBytes(of: Int64(-2).littleEndian, Array.init)
    let url = folder.file("half.safetensors")
    try rawSafetensors(header: header, data: data).write(to: url)
    let file = try SafetensorsFile(contentsOf: url)
    #expect(try file.tensor(named: "h").floats == [1, 0x1p-24, -.infinity])
    #expect(try file.tensor(named: "b") == RuntimeTensor(shape: [1, 2], floats: [1, -3]))
    #expect(try file.tensor(named: "i") == RuntimeTensor(shape: [2], storage: .i32([5, -2])))
  }

  @Test func i64ValuesOutsideTheI32RangeAreRefused() throws {
    let folder = try ScratchFolder()
    let header = #"{"ids": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}"#
    let url = folder.file("ids.safetensors")
    try rawSafetensors(header: header, data: withUnsafeBytes(of: Int64(1) << 40, Array.init)).write(to: url)
    let file = try SafetensorsFile(contentsOf: url)
    let message = runtimeErrorMessage { () throws(RuntimeError) in try file.tensor(named: "ids") }
    #expect(message == "weights: ids.safetensors: tensor 'ids' holds 1099511627776 at element 0, outside the i32 range")
  }
}
