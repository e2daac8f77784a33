/*
 * epilogue.h — what happens to one vector of a finished output tile before it leaves the
 * registers (see "EPILOGUE" in kiln_abi.h for the order). Every micro-kernel calls
 * kiln_tile_store once per accumulator vector; with the epilogue given as literals, the
 * branches on NULL pointers and the activation switch fold away.
 */
#ifndef KILN_EPILOGUE_H
#define KILN_EPILOGUE_H

/* Load `count` (1..KILN_VLEN) floats, the full vector when count == KILN_VLEN. */
KILN_INLINE kiln_vf kiln_load_n(const float *p, int count) {
  return count == KILN_VLEN ? kv_loadu(p) : kv_load_tail(p, count);
}

KILN_INLINE void kiln_store_n(float *p, kiln_vf v, int count) {
  if (count == KILN_VLEN) kv_storeu(p, v);
  else kv_store_tail(p, v, count);
}

KILN_INLINE kiln_vf kiln_apply_epilogue(kiln_vf v, kiln_epilogue ep, int row, int col, int count) {
  if (ep.alpha != 0.0f && ep.alpha != 1.0f) v = kv_mul(v, kv_set1(ep.alpha));
  if (ep.bias_col) v = kv_add(v, kiln_load_n(ep.bias_col + col, count));
  if (ep.bias_row) v = kv_add(v, kv_set1(ep.bias_row[row]));
  v = kv_activation(v, ep.activation);
  if (ep.gate) {
    const float *g = ep.gate + (ptrdiff_t)(row / ep.gate_rows_per_batch) * ep.gate_ld + col;
    v = kv_mul(v, kiln_load_n(g, count));
  }
  if (ep.residual) v = kv_add(v, kiln_load_n(ep.residual + (ptrdiff_t)row * ep.residual_ld + col, count));
  return v;
}

/*
 * Store one accumulator vector to c (count valid lanes). `accumulate`: add what c holds (a
 * later KC block of the same tile). `last`: this is the last KC block, apply the epilogue.
 * row/col: the position of c[0] in the whole output, for bias, gate and residual.
 */
KILN_INLINE void kiln_tile_store(float *c, kiln_vf v, int count, int accumulate, int last, kiln_epilogue ep,
                                 int row, int col) {
  if (accumulate) v = kv_add(v, kiln_load_n(c, count));
  if (last) v = kiln_apply_epilogue(v, ep, row, col, count);
  kiln_store_n(c, v, count);
}

#endif
