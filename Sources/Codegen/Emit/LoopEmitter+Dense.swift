// Matmul, convolution, gather and upsampling as loop nests (signatures in LoopEmitter.swift).

extension LoopEmitter {
  /// Rows of C (batch × M) split over threads. Vectorized with B unit-stride along N: i-k-j with
  /// the j loop on kv_* vectors accumulating into C's row. Otherwise textbook i-j-k with a scalar
  /// accumulator.
  public static func function(named name: String, _ kernel: MatmulLoopKernel) -> String {
    let batchRank = kernel.batchShape.count
    let batchCount = kernel.batchShape.reduce(1, *)
    let (aRow, aDepth) = (kernel.aStrides[batchRank], kernel.aStrides[batchRank + 1])
    let (bDepth, bColumn) = (kernel.bStrides[batchRank], kernel.bStrides[batchRank + 1])
    var out = CWriter()
    out.open("static void \(name)(const float *a, const float *b, float *c, int thread_id, int n_threads)")
    out.line("int row_begin, row_end;")
    out.line("kiln_thread_range(\(batchCount * kernel.m), thread_id, n_threads, &row_begin, &row_end);")
    out.open("for (int row = row_begin; row < row_end; row++)")
    out.line("const ptrdiff_t i = \(batchCount == 1 ? "row" : "row % \(kernel.m)");")
    let batchAxes = (0..<batchRank).filter { kernel.batchShape[$0] != 1 }
    for axis in batchAxes {
      let below = kernel.m * kernel.batchShape[(axis + 1)...].reduce(1, *)
      let wrap = axis == batchAxes.first ? "" : " % \(kernel.batchShape[axis])"
      out.line("const ptrdiff_t batch\(axis) = row / \(below)\(wrap);")
    }
    let aTerms = batchAxes.map { ("batch\($0)", kernel.aStrides[$0]) }
    let bTerms = batchAxes.map { ("batch\($0)", kernel.bStrides[$0]) }
    out.line("const float *a_row = \(CLiteral.offset("a", aTerms + [("i", aRow)]));")
    out.line("const float *b_batch = \(CLiteral.offset("b", bTerms));")
    out.line("float *c_row = c + (ptrdiff_t)row * \(kernel.n);")
    if kernel.vectorize && bColumn == 1 {
      out.line("for (int j = 0; j < \(kernel.n); j += KILN_VLEN) kiln_store_n(c_row + j, kv_zero(), KILN_MIN(KILN_VLEN, \(kernel.n) - j));")
      out.open("for (int p = 0; p < \(kernel.k); p++)")
      out.line("const kiln_vf a_ip = kv_set1(a_row[\(CLiteral.product("p", aDepth))]);")
      out.line("const float *b_row = \(CLiteral.offset("b_batch", [("p", bDepth)]));")
      out.open("for (int j = 0; j < \(kernel.n); j += KILN_VLEN)")
      out.line("const int n = KILN_MIN(KILN_VLEN, \(kernel.n) - j);")
      out.line("kiln_store_n(c_row + j, kv_fma(a_ip, kiln_load_n(b_row + j, n), kiln_load_n(c_row + j, n)), n);")
      out.close()
      out.close()
    } else {
      out.open("for (int j = 0; j < \(kernel.n); j++)")
      out.line("float acc = 0.0f;")
      let bIndex = CLiteral.sum([("p", bDepth), ("j", bColumn)])
      out.line("for (int p = 0; p < \(kernel.k); p++) acc += a_row[\(CLiteral.product("p", aDepth))] * b_batch[\(bIndex)];")
      out.line("c_row[j] = acc;")
      out.close()
    }
    out.close()
    out.close()
    return out.text
  }

  /// Textbook direct convolution (NCHW input, OIHW weight, zero padding), one (image, output
  /// channel) plane per unit of work, units split over threads.
  public static func function(named name: String, _ kernel: Conv2DLoopKernel) -> String {
    let inPerGroup = kernel.inChannels / max(kernel.groups, 1)
    let outPerGroup = kernel.outChannels / max(kernel.groups, 1)
    let (outHeight, outWidth) = (kernel.outputHeight, kernel.outputWidth)
    let planeSize = kernel.height * kernel.width
    var out = CWriter()
    out.open("static void \(name)(const float *x, const float *w, float *y, int thread_id, int n_threads)")
    out.line("int unit_begin, unit_end;")
    out.line("kiln_thread_range(\(kernel.batch * kernel.outChannels), thread_id, n_threads, &unit_begin, &unit_end);")
    out.open("for (int unit = unit_begin; unit < unit_end; unit++)")
    out.line("const int image = unit / \(kernel.outChannels), oc = unit % \(kernel.outChannels);")
    out.line("const int group = oc / \(outPerGroup);")
    out.line("const float *x_group = x + ((ptrdiff_t)image * \(kernel.inChannels) + group * \(inPerGroup)) * \(planeSize);")
    out.line("const float *w_oc = w + (ptrdiff_t)oc * \(inPerGroup * kernel.kernelHeight * kernel.kernelWidth);")
    out.line("float *y_plane = y + (ptrdiff_t)unit * \(outHeight * outWidth);")
    out.open("for (int oh = 0; oh < \(outHeight); oh++)")
    out.open("for (int ow = 0; ow < \(outWidth); ow++)")
    out.line("float acc = 0.0f;")
    out.open("for (int ic = 0; ic < \(inPerGroup); ic++)")
    out.open("for (int kh = 0; kh < \(kernel.kernelHeight); kh++)")
    out.line("const int ih = \(inputCoordinate("oh", "kh", stride: kernel.stride[0], padding: kernel.padding[0]));")
    if kernel.padding[0] > 0 || kernel.stride[0] * (outHeight - 1) + kernel.kernelHeight > kernel.height {
      out.line("if (ih < 0 || ih >= \(kernel.height)) continue;")
    }
    out.open("for (int kw = 0; kw < \(kernel.kernelWidth); kw++)")
    out.line("const int iw = \(inputCoordinate("ow", "kw", stride: kernel.stride[1], padding: kernel.padding[1]));")
    if kernel.padding[1] > 0 || kernel.stride[1] * (outWidth - 1) + kernel.kernelWidth > kernel.width {
      out.line("if (iw < 0 || iw >= \(kernel.width)) continue;")
    }
    out.line("acc += x_group[(ic * \(kernel.height) + ih) * \(kernel.width) + iw] * "
      + "w_oc[(ic * \(kernel.kernelHeight) + kh) * \(kernel.kernelWidth) + kw];")
    out.close()
    out.close()
    out.close()
    out.line("y_plane[oh * \(outWidth) + ow] = acc;")
    out.close()
    out.close()
    out.close()
    out.close()
    return out.text
  }

  /// `out*stride - padding + k`, without the parts that are 1 or 0.
  private static func inputCoordinate(_ output: String, _ tap: String, stride: Int, padding: Int) -> String {
    let scaled = CLiteral.product(output, stride)
    return padding == 0 ? "\(scaled) + \(tap)" : "\(scaled) - \(padding) + \(tap)"
  }

  /// Rows of the table copied by index, indices clamped to [0, rows); output rows split over threads.
  public static func function(named name: String, _ kernel: GatherKernel) -> String {
    var out = CWriter()
    out.open("static void \(name)(const float *table, const int32_t *indices, float *out, int thread_id, int n_threads)")
    out.line("int row_begin, row_end;")
    out.line("kiln_thread_range(\(kernel.indexCount), thread_id, n_threads, &row_begin, &row_end);")
    out.open("for (int i = row_begin; i < row_end; i++)")
    out.line("const int32_t index = KILN_MIN(KILN_MAX(indices[i], 0), \(max(kernel.tableRows - 1, 0)));")
    out.line("const float *src = table + (ptrdiff_t)index * \(kernel.width);")
    out.line("float *dst = out + (ptrdiff_t)i * \(kernel.width);")
    out.line("for (int col = 0; col < \(kernel.width); col++) dst[col] = src[col];")
    out.close()
    out.close()
    return out.text
  }

  /// Nearest-neighbour upsampling of [planes, H, W] by `scale`; planes split over threads.
  public static func function(named name: String, _ kernel: UpsampleKernel) -> String {
    let (outHeight, outWidth) = (kernel.height * kernel.scale, kernel.width * kernel.scale)
    var out = CWriter()
    out.open("static void \(name)(const float *x, float *y, int thread_id, int n_threads)")
    out.line("int plane_begin, plane_end;")
    out.line("kiln_thread_range(\(kernel.planes), thread_id, n_threads, &plane_begin, &plane_end);")
    out.open("for (int plane = plane_begin; plane < plane_end; plane++)")
    out.line("const float *src = x + (ptrdiff_t)plane * \(kernel.height * kernel.width);")
    out.line("float *dst = y + (ptrdiff_t)plane * \(outHeight * outWidth);")
    out.open("for (int oh = 0; oh < \(outHeight); oh++)")
    out.line("const float *src_row = src + (oh / \(kernel.scale)) * \(kernel.width);")
    out.line("float *dst_row = dst + oh * \(outWidth);")
    out.line("for (int ow = 0; ow < \(outWidth); ow++) dst_row[ow] = src_row[ow / \(kernel.scale)];")
    out.close()
    out.close()
    out.close()
    return out.text
  }
}
