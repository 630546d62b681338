import { expect } from 'vitest';
import { evaluate, grad, Graph, NDArray, ops, type Backend, type DType, type HostTensor, type Tensor, seededUniform } from '@lowrank/core';

/** Seeded host-side PRNG (mulberry32); one implementation in core. */
export const seededRandom = seededUniform;

export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
}

/** Builds a graph and its feeds together; float data is rounded to f32 so both sides see the same inputs. */
export class CaseBuilder {
  readonly g = new Graph();
  readonly feeds: Record<string, NDArray> = {};
  private readonly rand: () => number;

  constructor(seed = 1) {
    this.rand = seededRandom(seed);
  }

  input(name: string, shape: readonly number[], opts: { lo?: number; hi?: number; dtype?: DType; values?: readonly number[] } = {}): Tensor {
    const dtype = opts.dtype ?? 'f32';
    const lo = opts.lo ?? -2;
    const hi = opts.hi ?? 2;
    const n = shape.reduce((p, d) => p * d, 1);
    const raw = opts.values ?? Array.from({ length: n }, () => lo + (hi - lo) * this.rand());
    const vals = raw.map((v) => (dtype === 'f32' ? Math.fround(v) : dtype === 'bool' ? (v > 0.5 ? 1 : 0) : Math.floor(v)));
    this.feeds[name] = NDArray.from(shape, vals, dtype);
    return this.g.input(name, shape, dtype);
  }
}

export function toHost(a: NDArray): HostTensor {
  return { shape: a.shape, dtype: a.dtype, data: a.toHost() };
}

/** Largest violation of |a - r| <= atol + rtol·|r| as a ratio (<= 1 passes), and where. */
export function worstError(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): { ratio: number; index: number } {
  let ratio = 0;
  let index = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const r = expected[i];
    if (Number.isNaN(r) && Number.isNaN(a)) continue;
    if (a === r) continue;
    const bound = tol.atol + tol.rtol * Math.abs(r);
    const q = Math.abs(a - r) / bound;
    if (!(q <= ratio)) {
      ratio = Number.isNaN(q) ? Infinity : q;
      index = i;
    }
  }
  return { ratio, index };
}

export function expectClose(name: string, actual: HostTensor, expected: NDArray, tol: Tolerance): void {
  expect(actual.shape, `${name} shape`).toEqual([...expected.shape]);
  expect(actual.dtype, `${name} dtype`).toBe(expected.dtype);
  const exp = expected.dtype === 'f32' ? expected.data : expected.toHost();
  const { ratio, index } = worstError(actual.data as ArrayLike<number>, exp, expected.dtype === 'f32' ? tol : { rtol: 0, atol: 1e-12 });
  expect(ratio, `${name}[${index}]: got ${actual.data[index]}, reference ${exp[index]}`).toBeLessThanOrEqual(1);
}

/**
 * Runs `out` (and, for f32 values, the VJP of sum(out · cotangent) with respect
 * to `wrt`) on the backend and on the float64 reference, and compares them.
 */
export async function checkAgainstReference(backend: Backend, c: CaseBuilder, out: Tensor, wrt: readonly Tensor[], tol: Tolerance, gradTol: Tolerance = tol): Promise<void> {
  c.g.output('y', out);
  const names = ['y'];
  if (wrt.length > 0) {
    const cot = c.input('cotangent', out.shape, { lo: -1, hi: 1 });
    const grads = grad(ops.sum(ops.mul(out, cot)), wrt);
    grads.forEach((gr, i) => {
      c.g.output(`grad${i}`, gr);
      names.push(`grad${i}`);
    });
  }
  const ref = evaluate(c.g, c.feeds, names);
  const exe = await backend.compile(c.g);
  const feeds: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(c.feeds)) feeds[k] = toHost(v);
  const res = await exe.run(feeds);
  exe.dispose();
  for (const n of names) expectClose(n, res[n], ref.get(n)!, n === 'y' ? tol : gradTol);
}
