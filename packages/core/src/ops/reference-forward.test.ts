// The float64 reference kernels against loops written independently here,
// following the PyTorch / Hugging Face definitions. The gradient checks show
// that VJPs match the forward; these show that the forward is the right function.
// Graph constants of dtype f32 hold float32 values (1/sqrt(d), sqrt(2/pi),
// RoPE frequencies), so the loops below round those constants the same way.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, Graph, NDArray, ops, type Tensor } from '../index.js';
import { erfScalar } from './elementwise.js';
import { numel, type Shape } from '../shape.js';

const SEED = 99;
const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-12) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `element ${i}: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i])));
};

/** Evaluates `build` on f32 inputs of the given shapes and values. */
function apply(shapes: Shape[], values: number[][], build: (xs: Tensor[]) => Tensor, dtypes: ('f32' | 'i32')[] = []): NDArray {
  const g = new Graph();
  const xs = shapes.map((s, i) => g.input(`x${i}`, s, dtypes[i] ?? 'f32'));
  g.output('out', build(xs));
  const feeds = Object.fromEntries(shapes.map((s, i) => [`x${i}`, NDArray.from(s, values[i], dtypes[i] ?? 'f32')]));
  return evaluate(g, feeds).get('out')!;
}

const vals = (n: number, lo = -2, hi = 2) => fc.array(fc.double({ min: lo, max: hi, noNaN: true }), { minLength: n, maxLength: n });
const dim = fc.integer({ min: 1, max: 4 });

describe('reference forward values against independent loops', () => {
  it('an f32 constant holds the float32 value of the number given', () => {
    const g = new Graph();
    g.output('c', ops.constant(g, [0.1, Math.PI, 3], [3]));
    g.output('i', ops.constant(g, [2.7, -2.7, 3], [3], 'i32'));
    const r = evaluate(g, {});
    expect([...r.get('c')!.data]).toEqual([Math.fround(0.1), Math.fround(Math.PI), 3]);
    expect([...r.get('i')!.data]).toEqual([2, -2, 3]);
  });

  it('matmul with transposes and batch broadcasting', () => {
    fc.assert(
      fc.property(dim, dim, dim, fc.boolean(), fc.boolean(), fc.constantFrom<[number[], number[]]>([[], []], [[2], [2]], [[2, 1], [3]], [[1], [2]]), (m, k, n, ta, tb, [ba, bb]) => {
        const sa = [...ba, ...(ta ? [k, m] : [m, k])];
        const sb = [...bb, ...(tb ? [n, k] : [k, n])];
        const a = Array.from({ length: numel(sa) }, (_, i) => Math.sin(i + 1));
        const b = Array.from({ length: numel(sb) }, (_, i) => Math.cos(2 * i + 1));
        const out = apply([sa, sb], [a, b], ([x, y]) => ops.matmul(x, y, { transA: ta, transB: tb }));
        const batch = ba.length >= bb.length ? ba.map((d, i) => Math.max(d, bb[i - (ba.length - bb.length)] ?? 1)) : bb.map((d, i) => Math.max(d, ba[i - (bb.length - ba.length)] ?? 1));
        expect(out.shape).toEqual([...batch, m, n]);
        const nb = numel(batch);
        const pick = (bs: number[], bi: number) => {
          // Batch index of an operand with batch shape bs under broadcasting to `batch`.
          let off = 0;
          let rem = bi;
          const idx = batch.map((_, d) => {
            const stride = numel(batch.slice(d + 1));
            const v = Math.floor(rem / stride);
            rem -= v * stride;
            return v;
          });
          const lead = batch.length - bs.length;
          bs.forEach((d, j) => (off = off * d + (d === 1 ? 0 : idx[lead + j])));
          return off;
        };
        const want: number[] = [];
        for (let bi = 0; bi < nb; bi++) {
          const ao = pick(ba, bi) * m * k;
          const bo = pick(bb, bi) * k * n;
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let s = 0;
              for (let p = 0; p < k; p++) s += a[ao + (ta ? p * m + i : i * k + p)] * b[bo + (tb ? j * k + p : p * n + j)];
              want.push(s);
            }
        }
        close(out.data, want);
      }),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('softmax, logSoftmax and reductions over an axis', () => {
    fc.assert(
      fc.property(dim, dim, dim, fc.integer({ min: 0, max: 2 }), (d0, d1, d2, axis) => {
        const shape = [d0, d1, d2];
        const x = Array.from({ length: numel(shape) }, (_, i) => 3 * Math.sin(7 * i + d0));
        const at = (i: number, j: number, l: number) => x[(i * d1 + j) * d2 + l];
        const groups: number[][] = [];
        // Index lists of every group of elements that one reduction combines, in output order.
        for (let i = 0; i < (axis === 0 ? 1 : d0); i++)
          for (let j = 0; j < (axis === 1 ? 1 : d1); j++)
            for (let l = 0; l < (axis === 2 ? 1 : d2); l++) {
              const len = shape[axis];
              groups.push(Array.from({ length: len }, (_, t) => (axis === 0 ? at(t, j, l) : axis === 1 ? at(i, t, l) : at(i, j, t))));
            }
        close(apply([shape], [x], ([t]) => ops.sum(t, [axis])).data, groups.map((g) => g.reduce((s, v) => s + v, 0)));
        close(apply([shape], [x], ([t]) => ops.mean(t, [axis])).data, groups.map((g) => g.reduce((s, v) => s + v, 0) / g.length));
        close(apply([shape], [x], ([t]) => ops.max(t, [axis])).data, groups.map((g) => Math.max(...g)));
        // Softmax of the middle group along the last axis, checked through the permuted layout.
        const sm = apply([shape], [x], ([t]) => ops.softmax(t, -1)).data;
        const lsm = apply([shape], [x], ([t]) => ops.logSoftmax(t, -1)).data;
        for (let r = 0; r < d0 * d1; r++) {
          const row = x.slice(r * d2, (r + 1) * d2);
          const z = row.reduce((s, v) => s + Math.exp(v), 0);
          close(sm.slice(r * d2, (r + 1) * d2), row.map((v) => Math.exp(v) / z));
          close(lsm.slice(r * d2, (r + 1) * d2), row.map((v) => v - Math.log(z)));
        }
      }),
      { seed: SEED, numRuns: 30 },
    );
  });

  it('transpose, slice, pad and concat move the right elements', () => {
    const x = Array.from({ length: 24 }, (_, i) => i);
    const t = apply([[2, 3, 4]], [x], ([v]) => ops.transpose(v, [2, 0, 1]));
    expect(t.shape).toEqual([4, 2, 3]);
    for (let a = 0; a < 4; a++) for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) expect(t.get(a, b, c)).toBe(x[(b * 3 + c) * 4 + a]);
    const s = apply([[2, 3, 4]], [x], ([v]) => ops.slice(v, [1, 1, 0], [2, 3, 3]));
    expect([...s.data]).toEqual([16, 17, 18, 20, 21, 22]);
    const p = apply([[2, 2]], [[1, 2, 3, 4]], ([v]) => ops.pad(v, [1, 0], [0, 1]));
    expect([...p.data]).toEqual([0, 0, 0, 1, 2, 0, 3, 4, 0]);
    const c = apply([[2, 1], [2, 2]], [[1, 2], [3, 4, 5, 6]], (vs) => ops.concat(vs, 1));
    expect([...c.data]).toEqual([1, 3, 4, 2, 5, 6]);
  });

  it('gather picks rows and scatterAdd sums them back', () => {
    const table = [10, 11, 20, 21, 30, 31];
    const g = apply([[3, 2], [4]], [table, [2, 0, 2, 1]], ([t, i]) => ops.gather(t, i), ['f32', 'i32']);
    expect([...g.data]).toEqual([30, 31, 10, 11, 30, 31, 20, 21]);
    const s = apply([[4, 2], [4]], [[1, 2, 3, 4, 5, 6, 7, 8], [2, 0, 2, 1]], ([u, i]) => ops.scatterAdd(u, i, 0, 3), ['f32', 'i32']);
    expect([...s.data]).toEqual([3, 4, 7, 8, 1 + 5, 2 + 6]);
  });

  it('erf and both GELU forms match published values and the GPT-2 formula', () => {
    // erf table values from Abramowitz & Stegun, to 16 digits.
    const table: [number, number][] = [
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
      [3, 0.9999779095030014],
    ];
    for (const [x, want] of table) {
      expect(Math.abs(erfScalar(x) - want)).toBeLessThan(1e-15);
      expect(Math.abs(erfScalar(-x) + want)).toBeLessThan(1e-15);
    }
    const xs = [-3, -1, -0.3, 0, 0.7, 2.5];
    const f = Math.fround;
    close(apply([[6]], [xs], ([x]) => ops.gelu(x)).data, xs.map((x) => 0.5 * x * (1 + erfScalar(x * f(Math.SQRT1_2)))));
    close(
      apply([[6]], [xs], ([x]) => ops.gelu(x, 'tanh')).data,
      xs.map((x) => 0.5 * x * (1 + Math.tanh(f(Math.sqrt(2 / Math.PI)) * (x + f(0.044715) * x ** 3)))),
    );
    close(apply([[6]], [xs], ([x]) => ops.silu(x)).data, xs.map((x) => x / (1 + Math.exp(-x))));
  });

  it('layerNorm (biased variance) and rmsNorm as torch and LlamaRMSNorm', () => {
    const x = [1, 2, 4, -1, 0.5, 3, 3, -2];
    const w = [0.5, 1, 1.5, 2];
    const b = [0, 0.1, -0.1, 1];
    const ln = apply([[2, 4], [4], [4]], [x, w, b], ([v, g, be]) => ops.layerNorm(v, g, be, 1e-5)).data;
    const rms = apply([[2, 4], [4]], [x, w], ([v, g]) => ops.rmsNorm(v, g, 1e-6)).data;
    for (let r = 0; r < 2; r++) {
      const row = x.slice(4 * r, 4 * r + 4);
      const mu = row.reduce((s, v) => s + v, 0) / 4;
      const variance = row.reduce((s, v) => s + (v - mu) ** 2, 0) / 4;
      close(ln.slice(4 * r, 4 * r + 4), row.map((v, i) => ((v - mu) / Math.sqrt(variance + 1e-5)) * w[i] + b[i]));
      const ms = row.reduce((s, v) => s + v * v, 0) / 4;
      close(rms.slice(4 * r, 4 * r + 4), row.map((v, i) => (v / Math.sqrt(ms + 1e-6)) * w[i]));
    }
  });

  it('RoPE with its tables follows the Hugging Face LLaMA rotate-half convention', () => {
    const [S, D, theta] = [3, 4, 10000];
    const x = Array.from({ length: S * D }, (_, i) => Math.cos(i * 0.9));
    const g = new Graph();
    const xt = g.input('x', [S, D]);
    const { cos, sin } = ops.ropeTables(ops.arange(g, 0, S), D, theta);
    g.output('y', ops.rope(xt, cos, sin));
    const y = evaluate(g, { x: NDArray.from([S, D], x) }).get('y')!.data;
    for (let s = 0; s < S; s++) {
      for (let i = 0; i < D; i++) {
        const f = s * Math.fround(1 / theta ** ((2 * (i % (D / 2))) / D));
        const rotated = i < D / 2 ? -x[s * D + i + D / 2] : x[s * D + i - D / 2];
        expect(Math.abs(y[s * D + i] - (x[s * D + i] * Math.cos(f) + rotated * Math.sin(f)))).toBeLessThan(1e-12);
      }
    }
  });

  it('causal attention with fewer queries than keys attends to keys up to its own position', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 }), vals(3 * 3 + 5 * 3 + 5 * 2), (sq, extra, v) => {
        const sk = sq + extra;
        const [d, dv] = [3, 2];
        const q = v.slice(0, sq * d);
        const k = v.slice(9, 9 + sk * d);
        const vv = v.slice(24, 24 + sk * dv);
        const out = apply([[sq, d], [sk, d], [sk, dv]], [q, k, vv], ([a, b, c]) => ops.attention(a, b, c, { causal: true })).data;
        for (let i = 0; i < sq; i++) {
          const allowed = i + (sk - sq);
          const scores = Array.from({ length: allowed + 1 }, (_, j) => q.slice(i * d, i * d + d).reduce((s, qv, t) => s + qv * k[j * d + t], 0) * Math.fround(1 / Math.sqrt(d)));
          const mx = Math.max(...scores);
          const w = scores.map((s) => Math.exp(s - mx));
          const z = w.reduce((s, e) => s + e, 0);
          for (let c = 0; c < dv; c++) {
            const want = w.reduce((s, e, j) => s + (e / z) * vv[j * dv + c], 0);
            expect(Math.abs(out[i * dv + c] - want)).toBeLessThan(1e-12);
          }
        }
      }),
      { seed: SEED, numRuns: 20 },
    );
  });

  it('crossEntropy averages -log p(label) over non-ignored tokens', () => {
    const logits = [1, 2, 0.5, -1, 0, 3, 0.2, 0.2, 0.2, 2, -2, 1];
    const labels = [2, -100, 0, 1];
    const got = apply([[4, 3], [4]], [logits, labels], ([l, y]) => ops.crossEntropy(l, y), ['f32', 'i32']).data[0];
    let total = 0;
    let count = 0;
    labels.forEach((y, r) => {
      if (y === -100) return;
      const row = logits.slice(3 * r, 3 * r + 3);
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      total += lse - row[y];
      count++;
    });
    expect(Math.abs(got - total / count)).toBeLessThan(1e-12);
    // All tokens ignored: zero loss, not NaN.
    const none = apply([[4, 3], [4]], [logits, [-100, -100, -100, -100]], ([l, y]) => ops.crossEntropy(l, y), ['f32', 'i32']).data[0];
    expect(none).toBe(0);
  });
});
