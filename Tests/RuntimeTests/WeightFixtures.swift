import Foundation
import Runtime
import Testing
import Tracer

/// A fresh folder under the system's temporary directory, removed when the value is dropped.
final class ScratchFolder {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-weights-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// A safetensors file written byte by byte, so tests can damage any part of it: an 8-byte
/// little-endian header length, the header text, then the data section.
func rawSafetensors(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
  let headerBytes = Array(header.utf8)
  var file = Data()
  withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { file.append(contentsOf: $0) }
  file.append(contentsOf: headerBytes)
  file.append(contentsOf: data)
  return file
}

/// The `weights: …` line a refused file produces, or nil when it opened.
func refusal(opening data: Data, in folder: ScratchFolder, name: String = "model.safetensors") throws -> String? {
  let url = folder.file(name)
  try data.write(to: url)
  do {
    _ = try SafetensorsFile(contentsOf: url)
    return nil
  } catch {
    return error.description
  }
}

/// The message of a `RuntimeError` thrown by `body`, or nil when it did not throw.
func runtimeErrorMessage<T>(_ body: () throws(RuntimeError) -> T) -> String? {
  do {
    _ = try body()
    return nil
  } catch {
    return error.description
  }
}

func bytes(ofFloats values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
