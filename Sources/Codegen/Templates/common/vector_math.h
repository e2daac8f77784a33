/*
 * vector_math.h — exp, tanh, erf, sigmoid and the activations, written once over the vector
 * primitives every profile's vector.h defines (kv_add … kv_pow2i). Included by vector.h.
 *
 * Accuracy (fp32, checked by Tests/CodegenTests/kernels/kernel_tests.c against libm in double):
 *   exp: range reduction x = n·ln2 + r (ln2 in two parts) and a degree-6 polynomial on
 *        |r| <= ln2/2; flushes to 0 below -87.34 (no denormals), +inf above 88.72.
 *   tanh: odd polynomial for |x| < 0.625 (keeps relative accuracy near 0), else
 *        1 - 2/(exp(2|x|) + 1).
 *   erf: x·P(x²) for |x| < 1, else 1 - exp(-x²)·R(1/|x|) (fitted on [0.9, 3.92]), 1 beyond.
 */
#ifndef KILN_VECTOR_MATH_H
#define KILN_VECTOR_MATH_H

KILN_INLINE kiln_vf kv_exp(kiln_vf x) {
  const kiln_vf log2e = kv_set1(1.44269504088896341f);
  const kiln_vf ln2_hi = kv_set1(0.693359375f), ln2_lo = kv_set1(-2.12194440e-4f);
  kiln_vf xc = kv_min(kv_max(x, kv_set1(-87.3f)), kv_set1(88.72283f));
  kiln_vf n = kv_round(kv_mul(xc, log2e));
  kiln_vf r = kv_sub(xc, kv_mul(n, ln2_hi));
  r = kv_sub(r, kv_mul(n, ln2_lo));
  kiln_vf p = kv_set1(1.9875691500e-4f);
  p = kv_fma(p, r, kv_set1(1.3981999507e-3f));
  p = kv_fma(p, r, kv_set1(8.3334519073e-3f));
  p = kv_fma(p, r, kv_set1(4.1665795894e-2f));
  p = kv_fma(p, r, kv_set1(1.6666665459e-1f));
  p = kv_fma(p, r, kv_set1(5.0000001201e-1f));
  p = kv_fma(p, kv_mul(r, r), kv_add(r, kv_set1(1.0f)));
  /* n reaches 128 near the top of the range, past the largest float exponent: scale by
     2^min(n, 127), then by the missing factor 2 where n was 128. */
  kiln_vf n_low = kv_min(n, kv_set1(127.0f));
  kiln_vf y = kv_mul(kv_mul(p, kv_pow2i(n_low)), kv_add(kv_set1(1.0f), kv_sub(n, n_low)));
  y = kv_select_lt(x, kv_set1(-87.33654f), kv_zero(), y);
  return kv_select_lt(kv_set1(88.72283f), x, kv_set1(__builtin_inff()), y);
}

KILN_INLINE kiln_vf kv_sigmoid(kiln_vf x) {
  kiln_vf one = kv_set1(1.0f);
  return kv_div(one, kv_add(one, kv_exp(kv_sub(kv_zero(), x))));
}

KILN_INLINE kiln_vf kv_tanh(kiln_vf x) {
  kiln_vf a = kv_abs(x);
  kiln_vf z = kv_mul(x, x);
  kiln_vf p = kv_set1(-5.70498872745e-3f);
  p = kv_fma(p, z, kv_set1(2.06390887954e-2f));
  p = kv_fma(p, z, kv_set1(-5.37397155531e-2f));
  p = kv_fma(p, z, kv_set1(1.33314422036e-1f));
  p = kv_fma(p, z, kv_set1(-3.33332819422e-1f));
  kiln_vf small = kv_fma(kv_mul(p, z), x, x);
  kiln_vf e = kv_exp(kv_add(a, a));
  kiln_vf one = kv_set1(1.0f);
  kiln_vf large = kv_sub(one, kv_div(kv_set1(2.0f), kv_add(e, one)));
  large = kv_copysign(large, x);
  return kv_select_lt(a, kv_set1(0.625f), small, large);
}

KILN_INLINE kiln_vf kv_erf(kiln_vf x) {
  kiln_vf a = kv_abs(x);
  kiln_vf z = kv_mul(a, a);
  kiln_vf p = kv_set1(7.898210118e-05f);
  p = kv_fma(p, z, kv_set1(-8.024354099e-04f));
  p = kv_fma(p, z, kv_set1(5.190053574e-03f));
  p = kv_fma(p, z, kv_set1(-2.685480853e-02f));
  p = kv_fma(p, z, kv_set1(1.128361243e-01f));
  p = kv_fma(p, z, kv_set1(-3.761262884e-01f));
  p = kv_fma(p, z, kv_set1(1.128379167e+00f));
  kiln_vf small = kv_mul(p, a);
  kiln_vf t = kv_div(kv_set1(1.0f), kv_max(a, kv_set1(0.5f)));
  kiln_vf q = kv_set1(1.766864124e-02f);
  q = kv_fma(q, t, kv_set1(-1.077670015e-01f));
  q = kv_fma(q, t, kv_set1(2.661546252e-01f));
  q = kv_fma(q, t, kv_set1(-3.029831183e-01f));
  q = kv_fma(q, t, kv_set1(3.933616536e-02f));
  q = kv_fma(q, t, kv_set1(3.400746323e-01f));
  q = kv_fma(q, t, kv_set1(-4.150004655e-01f));
  q = kv_fma(q, t, kv_set1(2.924956256e-02f));
  q = kv_fma(q, t, kv_set1(5.606697644e-01f));
  q = kv_fma(q, t, kv_set1(1.807842650e-04f));
  kiln_vf large = kv_sub(kv_set1(1.0f), kv_mul(kv_exp(kv_sub(kv_zero(), z)), q));
  large = kv_min(large, kv_set1(1.0f));
  kiln_vf y = kv_select_lt(a, kv_set1(1.0f), small, large);
  return kv_copysign(y, x);
}

/* 0.5·x·(1 + tanh(u)) = x·sigmoid(2u) = x / (1 + exp(-2u)): one exp and one division, about
   half the work of going through kv_tanh, which matters in a GEMM epilogue (fc1 of every DiT
   block). Saturates correctly: exp(-2u) -> inf gives -0, exp(-2u) -> 0 gives x. */
KILN_INLINE kiln_vf kv_gelu_tanh(kiln_vf x) {
  kiln_vf minus_two_u = kv_mul(kv_set1(-1.5957691216057308f), kv_fma(kv_mul(kv_set1(0.044715f), x), kv_mul(x, x), x));
  return kv_div(x, kv_add(kv_set1(1.0f), kv_exp(minus_two_u)));
}

KILN_INLINE kiln_vf kv_gelu_erf(kiln_vf x) {
  kiln_vf half_x = kv_mul(kv_set1(0.5f), x);
  return kv_fma(half_x, kv_erf(kv_mul(x, kv_set1(0.70710678118654752f))), half_x);
}

KILN_INLINE kiln_vf kv_silu(kiln_vf x) { return kv_mul(x, kv_sigmoid(x)); }

KILN_INLINE kiln_vf kv_activation(kiln_vf x, int activation) {
  switch (activation) {
  case KILN_ACT_GELU_TANH: return kv_gelu_tanh(x);
  case KILN_ACT_GELU_ERF: return kv_gelu_erf(x);
  case KILN_ACT_SILU: return kv_silu(x);
  default: return x;
  }
}

#endif
