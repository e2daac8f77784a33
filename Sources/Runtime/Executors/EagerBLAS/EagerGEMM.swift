import COpenBLAS
import Tracer

/// Matmul and convolution through OpenBLAS's `cblas_sgemm`, as a framework's CPU backend does.
struct EagerGEMM: Sendable {
  let blas: OpenBLASLibrary
  let kernels: EagerKernels

  /// C[m×n] = op(A)[m×k] · op(B)[k×n], row-major; a transposed operand is stored as its
  /// transpose ([k×m] for A, [n×k] for B), as a framework hands BLAS a transposed view.
  private func sgemm(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                     m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false) {
    blas.sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
               blasint(m), blasint(n), blasint(k), 1,
               a, blasint(transposeA ? m : k), b, blasint(transposeB ? k : n), 0, c, blasint(n))
  }

  /// [..., M, K] × [..., K, N] with broadcast batch dims. An operand marked transposed holds the
  /// [..., K, M] (or [..., N, K]) data its transposed view reads, so a linear layer's [out, in]
  /// weight is never copied. A B shared by every batch element (a linear layer's weight) makes
  /// one GEMM with the batch folded into M; otherwise one GEMM per batch element.
  func matmul(_ a: MatmulOperand, _ b: MatmulOperand, result: Shape) -> [Float] {
    let (aShape, bShape) = (a.shape, b.shape)
    let (m, k, n) = (aShape[aShape.rank - 2], aShape[aShape.rank - 1], bShape[bShape.rank - 1])
    let batchShape = Shape(Array(result.dims.dropLast(2)))
    let batches = batchShape.elementCount
    let aBatches = aShape.elementCount / max(m * k, 1)
    let bBatches = bShape.elementCount / max(k * n, 1)
    return a.values.withUnsafeBufferPointer { aValues in
      b.values.withUnsafeBufferPointer { bValues in
        uninitializedArray(result.elementCount) { c in
          guard let (aBase, bBase, c) = baseAddresses(aValues, bValues, c) else { return }
          if bBatches == 1 && aBatches == batches && !a.isTransposed {
            sgemm(aBase, bBase, c, m: batches * m, n: n, k: k, transposeB: b.isTransposed)
          } else {
            let aMatrix = matrixIndices(Shape(Array(aShape.dims.dropLast(2))), in: batchShape)
            let bMatrix = matrixIndices(Shape(Array(bShape.dims.dropLast(2))), in: batchShape)
            for batch in 0..<batches {
              sgemm(aBase + aMatrix[batch] * m * k, bBase + bMatrix[batch] * k * n, c + batch * m * n, m: m, n: n, k: k,
                    transposeA: a.isTransposed, transposeB: b.isTransposed)
            }
          }
        }
      }
    }
  }

  /// For each element of `batchShape`, which matrix of an operand with batch dims `own` it reads.
  private func matrixIndices(_ own: Shape, in batchShape: Shape) -> [Int] {
    kernels.expand(Array(0..<own.elementCount), from: own, to: batchShape)
  }

  /// NCHW input, OIHW weight, symmetric zero padding, grouped channels: per image and group,
  /// im2col into [C/g·KH·KW, OH·OW] and one GEMM with the weight's [O/g, C/g·KH·KW] rows. A 1×1
  /// kernel with unit stride and no padding reads the input as it is.
  func conv2d(_ x: [Float], _ xShape: Shape, _ w: [Float], _ wShape: Shape, _ attributes: Conv2DAttributes,
              result: Shape) -> [Float] {
    let geometry = ConvGeometry(input: xShape, weight: wShape, attributes: attributes, result: result)
    let g = geometry
    return x.withUnsafeBufferPointer { x in
      w.withUnsafeBufferPointer { w in
        uninitializedArray(result.elementCount) { out in
          guard let (x, w, out) = baseAddresses(x, w, out) else { return }
          var columns = [Float](repeating: 0, count: g.isPointwise ? 0 : g.patchLength * g.outPlane)
          columns.withUnsafeMutableBufferPointer { columns in
            for image in 0..<g.batch {
              for group in 0..<g.groups {
                let input = x + (image * g.channels + group * g.groupChannels) * g.inPlane
                let output = out + (image * g.outChannels + group * g.groupOutChannels) * g.outPlane
                let weight = w + group * g.groupOutChannels * g.patchLength
                if g.isPointwise {
                  sgemm(weight, input, output, m: g.groupOutChannels, n: g.outPlane, k: g.patchLength)
                } else if let buffer = columns.baseAddress {
                  im2col(input, into: buffer, g)
                  sgemm(weight, buffer, output, m: g.groupOutChannels, n: g.outPlane, k: g.patchLength)
                }
              }
            }
          }
        }
      }
    }
  }

  /// Row (c, kh, kw) of the column matrix holds, for every output pixel, the input value the
  /// kernel tap (kh, kw) of channel c sees there (zero in the padding).
  private func im2col(_ input: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>, _ g: ConvGeometry) {
    kernels.parallelism.forEachChunk(of: g.patchLength, grain: max(1, EagerParallelism.grain / max(g.outPlane, 1))) { rows in
      for row in rows {
        let (c, tap) = row.quotientAndRemainder(dividingBy: g.kernelH * g.kernelW)
        let (kh, kw) = tap.quotientAndRemainder(dividingBy: g.kernelW)
        let plane = input + c * g.inPlane
        let destination = columns + row * g.outPlane
        for oh in 0..<g.outH {
          let ih = oh * g.strideH - g.padH + kh
          let line = destination + oh * g.outW
          guard ih >= 0, ih < g.height else {
            line.update(repeating: 0, count: g.outW)
            continue
          }
          for ow in 0..<g.outW {
            let iw = ow * g.strideW - g.padW + kw
            line[ow] = iw >= 0 && iw < g.width ? plane[ih * g.width + iw] : 0
          }
        }
      }
    }
  }
}

/// One side of a matmul: its values and the shape the matmul sees. When `isTransposed`, the
/// values are laid out as that shape with its two last axes swapped.
struct MatmulOperand {
  let values: [Float]
  let shape: Shape
  let isTransposed: Bool
}

/// The sizes of one convolution, named once.
struct ConvGeometry {
  let batch, channels, height, width: Int
  let outChannels, groupChannels, kernelH, kernelW: Int
  let outH, outW, strideH, strideW, padH, padW, groups: Int

  init(input: Shape, weight: Shape, attributes: Conv2DAttributes, result: Shape) {
    (batch, channels, height, width) = (input[0], input[1], input[2], input[3])
    (outChannels, groupChannels, kernelH, kernelW) = (weight[0], weight[1], weight[2], weight[3])
    (outH, outW) = (result[2], result[3])
    (strideH, strideW) = (attributes.stride[0], attributes.stride[1])
    (padH, padW) = (attributes.padding[0], attributes.padding[1])
    groups = attributes.groups
  }

  var inPlane: Int { height * width }
  var outPlane: Int { outH * outW }
  var groupOutChannels: Int { outChannels / groups }
  var patchLength: Int { groupChannels * kernelH * kernelW }
  var isPointwise: Bool {
    kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0
  }
}

/// The three base addresses, or nil when a buffer is empty (nothing to compute).
private func baseAddresses(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>,
                           _ c: UnsafeMutableBufferPointer<Float>)
  -> (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>)?
{
  guard let a = a.baseAddress, let b = b.baseAddress, let c = c.baseAddress else { return nil }
  return (a, b, c)
}
