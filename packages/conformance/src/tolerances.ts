/**
 * How close a backend's value must be to the float64 reference:
 * |got - want| <= atol + rtol·|want|, elementwise. Integer and boolean
 * outputs must match exactly, whatever the table says.
 */
export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
}

/** For a backend whose float results are float64 (the reference backend itself). */
export const FLOAT64_TOLERANCE: Tolerance = { rtol: 1e-12, atol: 1e-12 };

/** Default for an op the float32 table below does not name. */
export const DEFAULT_FLOAT32_TOLERANCE: Tolerance = { rtol: 1e-5, atol: 1e-6 };

/**
 * Float32 tolerances per op, for forward values and VJPs alike. Inputs are
 * O(1) and shapes small, so these leave room for float32 rounding (~6e-8 per
 * operation), reassociated sums, and approximate transcendental functions on
 * GPUs, but not for a wrong formula.
 *
 * | op                                    | rtol | atol | why                                                   |
 * |---------------------------------------|------|------|-------------------------------------------------------|
 * | neg, reshape, transpose, slice, pad,  | 1e-6 | 1e-7 | moves values; only the VJP of broadcasting adds       |
 * | concat, gather, where, cast,          |      |      |                                                       |
 * | stopGradient, randomUniform           |      |      | (random: 24-bit values, exact in float32)             |
 * | add, sub, mul, div, maximum, minimum  | 1e-5 | 1e-6 | one rounding, plus sums for broadcast VJPs            |
 * | broadcastTo, scatterAdd, reduceSum,   | 1e-5 | 1e-5 | sums whose order a backend may change                 |
 * | reduceMean, reduceMax                 |      |      |                                                       |
 * | exp, log, sqrt, rsqrt, tanh, sigmoid, | 1e-4 | 1e-5 | GPU transcendental functions are accurate to a few    |
 * | sin, cos, erf, pow, relu              |      |      | ulp only; tanh VJP 1 - y² cancels                      |
 * | softmax, logSoftmax                   | 1e-4 | 1e-5 | max-shifted exponentials and a sum                    |
 * | matmul, matmulNf4                     | 1e-4 | 1e-5 | dot products (length ≤ 32), reassociated              |
 * | nf4Dequantize, dequantizeDynamic8     | 1e-5 | 1e-6 | one product of two float32 values (the default)       |
 * | gelu, silu, dropout                   | 1e-4 | 1e-5 | erf/tanh/sigmoid inside                               |
 * | layerNorm, rmsNorm, rope              | 1e-4 | 1e-4 | rsqrt of a variance; VJP subtracts means              |
 * | attention, crossEntropy               | 2e-4 | 1e-4 | two matmuls and a softmax; log-sum-exp                |
 */
export const FLOAT32_TOLERANCES: Readonly<Record<string, Tolerance>> = {
  ...same(['neg', 'reshape', 'transpose', 'slice', 'pad', 'concat', 'gather', 'where', 'cast', 'stopGradient', 'randomUniform'], {
    rtol: 1e-6,
    atol: 1e-7,
  }),
  ...same(['add', 'sub', 'mul', 'div', 'maximum', 'minimum'], { rtol: 1e-5, atol: 1e-6 }),
  ...same(['broadcastTo', 'scatterAdd', 'reduceSum', 'reduceMean', 'reduceMax'], { rtol: 1e-5, atol: 1e-5 }),
  ...same(['exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'sin', 'cos', 'erf', 'pow', 'relu'], { rtol: 1e-4, atol: 1e-5 }),
  ...same(['softmax', 'logSoftmax', 'matmul', 'matmulNf4', 'gelu', 'silu', 'dropout'], { rtol: 1e-4, atol: 1e-5 }),
  ...same(['layerNorm', 'rmsNorm', 'rope'], { rtol: 1e-4, atol: 1e-4 }),
  ...same(['attention', 'crossEntropy'], { rtol: 2e-4, atol: 1e-4 }),
};

/** Relative tolerance (norm-wise) for the whole-training-step cases: loss and every trainable gradient. */
export const TRAINING_STEP_RTOL = 1e-4;

function same(ops: readonly string[], t: Tolerance): Record<string, Tolerance> {
  return Object.fromEntries(ops.map((o) => [o, t]));
}

/** The tolerance an op is held to on a backend, after the caller's overrides. */
export function toleranceFor(op: string, float64: boolean, overrides: Readonly<Record<string, Tolerance>> = {}): Tolerance {
  return overrides[op] ?? (float64 ? FLOAT64_TOLERANCE : (FLOAT32_TOLERANCES[op] ?? DEFAULT_FLOAT32_TOLERANCE));
}
