import { afterAll, describe, expect, it } from 'vitest';
import { listOps, ops, type Tensor } from '@lowrank/core';
import { createOrtBackend } from '../ort-backend.js';
import { loweredOps } from './lowering-registry.js';
import { CaseBuilder, checkAgainstReference, type Tolerance } from '../../test/reference-check.js';

/*
 * Every core primitive, forward and VJP, on onnxruntime's CPU provider against
 * the float64 reference. Float32 tolerances (|a - r| <= atol + rtol·|r|):
 * elementwise 1e-6/1e-6; transcendental (exp, log, erf, pow, sigmoid, tanh) 2e-6/1e-6;
 * reductions, softmax, matmul 1e-5/1e-5; integer and bool results are exact.
 */
const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1 });
afterAll(() => backend.dispose());

const EW: Tolerance = { rtol: 1e-6, atol: 1e-6 };
const TRANS: Tolerance = { rtol: 2e-6, atol: 1e-6 };
const ACC: Tolerance = { rtol: 1e-5, atol: 1e-5 };
const EXACT: Tolerance = { rtol: 0, atol: 0 };
/** Within float32 rounding of a float64 reference (half an ulp). */
const F32_ROUNDING: Tolerance = { rtol: 6e-8, atol: 0 };

type Case = (c: CaseBuilder) => { out: Tensor; wrt: Tensor[]; tol: Tolerance };

const unary = (f: (x: Tensor) => Tensor, lo = -2, hi = 2, tol = TRANS): Case => (c) => {
  const x = c.input('x', [3, 4], { lo, hi });
  return { out: f(x), wrt: [x], tol };
};
const binary = (f: (a: Tensor, b: Tensor) => Tensor, bLo = -2, bHi = 2): Case => (c) => {
  const a = c.input('a', [2, 3, 4]);
  const b = c.input('b', [3, 1], { lo: bLo, hi: bHi });
  return { out: f(a, b), wrt: [a, b], tol: EW };
};

const floatCases: Record<string, Case> = {
  neg: unary(ops.neg, -2, 2, EW),
  exp: unary(ops.exp),
  log: unary(ops.log, 0.1, 3),
  sqrt: unary(ops.sqrt, 0.1, 3),
  rsqrt: unary(ops.rsqrt, 0.1, 3),
  tanh: unary(ops.tanh),
  sigmoid: unary(ops.sigmoid),
  relu: unary(ops.relu),
  sin: unary(ops.sin),
  cos: unary(ops.cos),
  erf: unary(ops.erf),
  pow: unary((x) => ops.pow(x, 3)),
  'pow(-1.5)': unary((x) => ops.pow(x, -1.5), 0.2, 2),
  add: binary(ops.add),
  sub: binary(ops.sub),
  mul: binary(ops.mul),
  div: binary(ops.div, 0.5, 2),
  maximum: binary(ops.maximum),
  minimum: binary(ops.minimum),
  where: (c) => {
    const a = c.input('a', [3, 4]);
    const b = c.input('b', [4]);
    const cond = c.input('cond', [3, 1], { dtype: 'bool', lo: 0, hi: 1 });
    return { out: ops.where(cond, a, b), wrt: [a, b], tol: EW };
  },
  stopGradient: (c) => {
    const x = c.input('x', [5]);
    return { out: ops.add(ops.mul(ops.stopGradient(x), x), x), wrt: [x], tol: EW };
  },
  'cast f32->f32 grad path': (c) => {
    const x = c.input('x', [5]);
    return { out: ops.mul(ops.cast(ops.cast(x, 'i32'), 'f32'), x), wrt: [x], tol: EW };
  },
  reduceSum: (c) => {
    const x = c.input('x', [2, 3, 4]);
    return { out: ops.sum(x, [0, 2], false), wrt: [x], tol: ACC };
  },
  'reduceSum keepdims all': (c) => {
    const x = c.input('x', [2, 3, 4]);
    return { out: ops.sum(x, [0, 1, 2], true), wrt: [x], tol: ACC };
  },
  reduceMean: (c) => {
    const x = c.input('x', [2, 3, 4]);
    return { out: ops.mean(x, [-1], true), wrt: [x], tol: ACC };
  },
  reduceMax: (c) => {
    const x = c.input('x', [2, 3, 4]);
    return { out: ops.max(x, [1], false), wrt: [x], tol: ACC };
  },
  softmax: (c) => {
    const x = c.input('x', [2, 3, 5]);
    return { out: ops.softmax(x, -1), wrt: [x], tol: ACC };
  },
  'softmax axis 0': (c) => {
    const x = c.input('x', [4, 3]);
    return { out: ops.softmax(x, 0), wrt: [x], tol: ACC };
  },
  logSoftmax: (c) => {
    const x = c.input('x', [2, 7]);
    return { out: ops.logSoftmax(x, -1), wrt: [x], tol: ACC };
  },
  reshape: (c) => {
    const x = c.input('x', [2, 3, 4]);
    return { out: ops.mul(ops.reshape(x, [6, 4]), ops.reshape(x, [6, 4])), wrt: [x], tol: EW };
  },
  transpose: (c) => {
    const x = c.input('x', [2, 3, 4]);
    return { out: ops.transpose(x, [2, 0, 1]), wrt: [x], tol: EW };
  },
  slice: (c) => {
    const x = c.input('x', [4, 5]);
    return { out: ops.slice(x, [1, 0], [3, 4]), wrt: [x], tol: EW };
  },
  pad: (c) => {
    const x = c.input('x', [2, 3]);
    return { out: ops.pad(x, [1, 0], [2, 3]), wrt: [x], tol: EW };
  },
  concat: (c) => {
    const a = c.input('a', [2, 3]);
    const b = c.input('b', [2, 1]);
    const d = c.input('d', [2, 2]);
    return { out: ops.concat([a, b, d], -1), wrt: [a, b, d], tol: EW };
  },
  broadcastTo: (c) => {
    const x = c.input('x', [3, 1]);
    return { out: ops.broadcastTo(x, [2, 3, 4]), wrt: [x], tol: EW };
  },
  gather: (c) => {
    const t = c.input('table', [5, 3]);
    const idx = c.input('idx', [2, 3], { dtype: 'i32', values: [0, 4, 4, 2, 0, 4] });
    return { out: ops.gather(t, idx, 0), wrt: [t], tol: EW };
  },
  'gather axis 1': (c) => {
    const t = c.input('table', [2, 5, 3]);
    const idx = c.input('idx', [4], { dtype: 'i32', values: [1, 1, 3, 0] });
    return { out: ops.gather(t, idx, 1), wrt: [t], tol: EW };
  },
  scatterAdd: (c) => {
    const u = c.input('u', [2, 4, 3]);
    const idx = c.input('idx', [4], { dtype: 'i32', values: [1, 0, 1, 5] });
    return { out: ops.scatterAdd(u, idx, 1, 6), wrt: [u], tol: EW };
  },
  matmul: (c) => {
    const a = c.input('a', [3, 4]);
    const b = c.input('b', [4, 5]);
    return { out: ops.matmul(a, b), wrt: [a, b], tol: ACC };
  },
  'matmul transA transB batched': (c) => {
    const a = c.input('a', [2, 1, 4, 3]);
    const b = c.input('b', [5, 6, 4]);
    return { out: ops.matmul(a, b, { transA: true, transB: true }), wrt: [a, b], tol: ACC };
  },
  'matmul transB': (c) => {
    const a = c.input('a', [2, 3, 4]);
    const b = c.input('b', [5, 4]);
    return { out: ops.matmul(a, b, { transB: true }), wrt: [a, b], tol: ACC };
  },
};

describe('float primitives: forward and VJP against the float64 reference', () => {
  for (const [name, make] of Object.entries(floatCases)) {
    it(name, async () => {
      const c = new CaseBuilder(name.length * 7919);
      const { out, wrt, tol } = make(c);
      await checkAgainstReference(backend, c, out, wrt, tol, { rtol: tol.rtol * 4, atol: tol.atol * 4 });
    });
  }
});

const intCases: Record<string, Case> = {
  'add i32 (wraps)': (c) => ops.add(c.input('a', [4], { dtype: 'i32', values: [1, -5, 2147483647, 7] }), c.input('b', [4], { dtype: 'i32', values: [2, 3, 1, -9] })) && noGrad(ops.add(c.g.tensor(c.g.inputs.get('a')!.id), c.g.tensor(c.g.inputs.get('b')!.id))),
  'sub/mul/div i32': (c) => {
    const a = c.input('a', [5], { dtype: 'i32', values: [7, -7, 100, 3, -1] });
    const b = c.input('b', [5], { dtype: 'i32', values: [2, 2, -3, 5, 1] });
    return noGrad(ops.concat([ops.sub(a, b), ops.mul(a, b), ops.div(a, b), ops.maximum(a, b), ops.minimum(a, b)], 0));
  },
  'u8 arithmetic wraps': (c) => {
    const a = c.input('a', [4], { dtype: 'u8', values: [250, 3, 9, 128] });
    const b = c.input('b', [4], { dtype: 'u8', values: [10, 5, 2, 2] });
    return noGrad(ops.concat([ops.add(a, b), ops.sub(a, b), ops.mul(a, b), ops.div(a, b), ops.maximum(a, b)], 0));
  },
  comparisons: (c) => {
    const a = c.input('a', [6], { values: [1, 2, 3, -1, 0, 5] });
    const b = c.input('b', [6], { values: [1, 3, 2, -1, 1, 4] });
    return noGrad(ops.concat([ops.equal(a, b), ops.notEqual(a, b), ops.less(a, b), ops.lessEqual(a, b), ops.greater(a, b), ops.greaterEqual(a, b)], 0));
  },
  'comparisons i32, u8, bool': (c) => {
    const a = c.input('a', [3], { dtype: 'i32', values: [1, -2, 3] });
    const b = c.input('b', [3], { dtype: 'i32', values: [1, 3, 2] });
    const u = c.input('u', [3], { dtype: 'u8', values: [1, 200, 3] });
    const v = c.input('v', [3], { dtype: 'u8', values: [2, 200, 1] });
    const p = c.input('p', [3], { dtype: 'bool', values: [1, 0, 1] });
    const q = c.input('q', [3], { dtype: 'bool', values: [1, 1, 0] });
    return noGrad(ops.concat([ops.less(a, b), ops.greaterEqual(u, v), ops.equal(u, v), ops.equal(p, q), ops.less(p, q), ops.logicalAnd(p, q), ops.logicalOr(p, q)], 0));
  },
  casts: (c) => {
    const x = c.input('x', [6], { values: [-2.7, -0.5, 0, 0.9, 3.5, 300.25] });
    const i = c.input('i', [3], { dtype: 'i32', values: [-3, 0, 9] });
    const u = c.input('u', [3], { dtype: 'u8', values: [0, 7, 255] });
    return noGrad(
      ops.concat(
        [ops.cast(x, 'i32'), ops.cast(ops.cast(x, 'u8'), 'i32'), ops.cast(ops.cast(x, 'bool'), 'i32'), ops.cast(ops.cast(i, 'f32'), 'i32'), ops.cast(u, 'i32'), ops.cast(ops.cast(i, 'bool'), 'i32')],
        0,
      ),
    );
  },
  'where on i32, u8, bool': (c) => {
    const cond = c.input('cond', [3], { dtype: 'bool', values: [1, 0, 1] });
    const a = c.input('a', [3], { dtype: 'i32', values: [1, 2, 3] });
    const u = c.input('u', [3], { dtype: 'u8', values: [4, 5, 6] });
    const p = c.input('p', [3], { dtype: 'bool', values: [0, 1, 0] });
    return noGrad(ops.concat([ops.where(cond, a, 9), ops.cast(ops.where(cond, u, 200), 'i32'), ops.cast(ops.where(cond, p, ops.logicalOr(p, p)), 'i32')], 0));
  },
  'reductions on integers': (c) => {
    const a = c.input('a', [2, 3], { dtype: 'i32', values: [1, -5, 7, 2, 2, 9] });
    const u = c.input('u', [2, 3], { dtype: 'u8', values: [1, 250, 7, 2, 2, 9] });
    return noGrad(ops.concat([ops.sum(a, [1]), ops.max(a, [0]), ops.cast(ops.max(u, [1]), 'i32')], 0));
  },
  'shape ops on bool and u8': (c) => {
    const p = c.input('p', [2, 3], { dtype: 'bool', values: [1, 0, 1, 0, 0, 1] });
    const u = c.input('u', [2, 3], { dtype: 'u8', values: [1, 2, 3, 4, 5, 6] });
    const pp = ops.cast(ops.pad(ops.transpose(p, [1, 0]), [0, 1], [0, 0]), 'i32');
    const uu = ops.cast(ops.slice(ops.broadcastTo(ops.reshape(u, [1, 6]), [2, 6]), [0, 1], [2, 5]), 'i32');
    return noGrad(ops.concat([ops.reshape(pp, [9]), ops.reshape(uu, [8]), ops.reshape(ops.cast(ops.gather(u, ops.arange(c.g, 1, 2), 0), 'i32'), [3])], 0));
  },
  nf4Dequantize: (c) => {
    const codes = c.input('codes', [64], { dtype: 'u8', lo: 0, hi: 256 });
    const absmax = c.input('absmax', [4], { lo: 0.1, hi: 3 });
    const w = ops.nf4Dequantize(codes, absmax, { shape: [8, 16], blockSize: 32 });
    return { out: ops.mul(w, w), wrt: [absmax], tol: EW };
  },
  'fp4 dequantize': (c) => {
    const codes = c.input('codes', [32], { dtype: 'u8', lo: 0, hi: 256 });
    const absmax = c.input('absmax', [1], { lo: 0.1, hi: 3 });
    return { out: ops.nf4Dequantize(codes, absmax, { shape: [8, 8], blockSize: 64, codebook: 'fp4' }), wrt: [absmax], tol: F32_ROUNDING };
  },
  sources: (c) => {
    const big = ops.fill(c.g, [40], 3, 'i32');
    const small = ops.fill(c.g, [2], -1, 'i32');
    const k = ops.constant(c.g, [5, -6, 7], [3], 'i32');
    const r = ops.arange(c.g, 2, 100, 3);
    const rb = ops.cast(ops.constant(c.g, [1, 0, 1], [3], 'bool'), 'i32');
    const x = c.input('x', [1], { dtype: 'i32', values: [0] });
    return noGrad(ops.add(ops.concat([big, small, k, r, rb], 0), x));
  },
};

function noGrad(out: Tensor): { out: Tensor; wrt: Tensor[]; tol: Tolerance } {
  return { out, wrt: [], tol: EXACT };
}

describe('integer, u8 and bool primitives are exact', () => {
  for (const [name, make] of Object.entries(intCases)) {
    it(name, async () => {
      const c = new CaseBuilder(3);
      const { out, wrt, tol } = make(c);
      await checkAgainstReference(backend, c, out, wrt, tol);
    });
  }
});

describe('coverage', () => {
  it('every core primitive has an ONNX lowering', () => {
    const missing = listOps('primitive')
      .map((d) => d.name)
      .filter((n) => !loweredOps().includes(n));
    expect(missing).toEqual([]);
  });

  it('every source op has an ONNX lowering (inputs and params are graph inputs or initializers)', () => {
    const missing = listOps('source')
      .map((d) => d.name)
      .filter((n) => n !== 'input' && n !== 'param' && !loweredOps().includes(n));
    expect(missing).toEqual([]);
  });
});
