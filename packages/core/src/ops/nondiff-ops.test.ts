// Ops with integer or boolean outputs, random ops and stopGradient: their
// values are checked against computations written independently here.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emit, evaluate, Graph, grad, NDArray, ops, type DType } from '../index.js';
import { numel, type Shape } from '../shape.js';

const SEED = 4242;

/** Multi-index of flat offset k in a row-major shape. */
function unravel(k: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = k % shape[d];
    k = Math.floor(k / shape[d]);
  }
  return idx;
}

/** Element of `data` (shape `shape`) seen at output multi-index `outIdx` under NumPy broadcasting. */
function broadcastRead(data: readonly number[], shape: Shape, outIdx: readonly number[]): number {
  const lead = outIdx.length - shape.length;
  let off = 0;
  for (let d = 0; d < shape.length; d++) off = off * shape[d] + (shape[d] === 1 ? 0 : outIdx[lead + d]);
  return data[off];
}

function run(build: (g: Graph) => ReturnType<typeof ops.add>, feeds: Record<string, NDArray> = {}): NDArray {
  const g = new Graph();
  g.output('out', build(g));
  return evaluate(g, feeds).get('out')!;
}

const smallInts = (n: number) => fc.array(fc.integer({ min: -2, max: 2 }), { minLength: n, maxLength: n });

const comparisons: [string, (a: number, b: number) => boolean][] = [
  ['equal', (a, b) => a === b],
  ['notEqual', (a, b) => a !== b],
  ['less', (a, b) => a < b],
  ['lessEqual', (a, b) => a <= b],
  ['greater', (a, b) => a > b],
  ['greaterEqual', (a, b) => a >= b],
];

describe('comparison ops (bool output) against JavaScript operators', () => {
  const shapes: [Shape, Shape, Shape][] = [
    [[2, 3], [2, 3], [2, 3]],
    [[2, 1, 3], [4, 1], [2, 4, 3]],
    [[3], [], [3]],
  ];
  for (const [op, f] of comparisons) {
    for (const dtype of ['f32', 'i32'] as DType[]) {
      it(`${op} on ${dtype} with broadcasting`, () => {
        for (const [sa, sb, so] of shapes) {
          fc.assert(
            fc.property(smallInts(numel(sa)), smallInts(numel(sb)), (a, b) => {
              const out = run(
                (g) => emit(op, [g.input('a', sa, dtype), g.input('b', sb, dtype)]),
                { a: NDArray.from(sa, a, dtype), b: NDArray.from(sb, b, dtype) },
              );
              expect(out.dtype).toBe('bool');
              expect(out.shape).toEqual(so);
              const want = Array.from({ length: numel(so) }, (_, k) => {
                const idx = unravel(k, so);
                return f(broadcastRead(a, sa, idx), broadcastRead(b, sb, idx)) ? 1 : 0;
              });
              expect([...out.data]).toEqual(want);
            }),
            { seed: SEED, numRuns: 10 },
          );
        }
      });
    }
  }

  it('logicalAnd and logicalOr follow the truth tables', () => {
    const a = [0, 0, 1, 1];
    const b = [0, 1, 0, 1];
    for (const [op, want] of [
      ['logicalAnd', [0, 0, 0, 1]],
      ['logicalOr', [0, 1, 1, 1]],
    ] as const) {
      const out = run((g) => emit(op, [g.input('a', [4], 'bool'), g.input('b', [4], 'bool')]), {
        a: NDArray.from([4], a, 'bool'),
        b: NDArray.from([4], b, 'bool'),
      });
      expect([...out.data]).toEqual(want);
    }
  });
});

describe('cast', () => {
  it('f32 to i32 truncates toward zero, to bool tests non-zero, and back to f32 is exact', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 6, maxLength: 6 }), (xs) => {
        const feeds = { x: NDArray.from([6], xs) };
        const toInt = run((g) => ops.cast(g.input('x', [6]), 'i32'), feeds);
        const toBool = run((g) => ops.cast(g.input('x', [6]), 'bool'), feeds);
        const roundTrip = run((g) => ops.cast(ops.cast(g.input('x', [6]), 'i32'), 'f32'), feeds);
        expect([...toInt.data]).toEqual(xs.map((v) => (v < 0 ? Math.ceil(v) : Math.floor(v)) + 0));
        expect([...toBool.data]).toEqual(xs.map((v) => (v === 0 ? 0 : 1)));
        expect(roundTrip.dtype).toBe('f32');
        expect([...roundTrip.data]).toEqual([...toInt.data]);
      }),
      { seed: SEED, numRuns: 20 },
    );
  });
});

describe('sources', () => {
  it('arange, fill and constant produce the values asked for', () => {
    expect([...run((g) => ops.arange(g, 2, 11, 3)).data]).toEqual([2, 5, 8]);
    expect([...run((g) => ops.arange(g, 5, 0, -2)).data]).toEqual([5, 3, 1]);
    expect([...run((g) => ops.fill(g, [2, 2], 1.5)).data]).toEqual([1.5, 1.5, 1.5, 1.5]);
    expect([...run((g) => ops.constant(g, [1.7, -2.2], [2], 'i32')).data]).toEqual([1, -2]);
  });
});

describe('stopGradient', () => {
  it('is the identity forward and passes no gradient backward', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const u = g.input('u', [3]);
    const w = g.input('w', [3]);
    const y = ops.stopGradient(x);
    const loss = ops.add(ops.sum(ops.mul(ops.exp(y), u)), ops.sum(ops.mul(x, w)));
    const [gx] = grad(loss, [x]);
    g.output('y', y);
    g.output('gx', gx);
    const feeds = { x: NDArray.from([3], [0.5, -1, 2]), u: NDArray.from([3], [1, 2, 3]), w: NDArray.from([3], [-0.25, 4, 7]) };
    const r = evaluate(g, feeds);
    expect([...r.get('y')!.data]).toEqual([0.5, -1, 2]);
    // d/dx of exp(stop(x))·u is zero, so only w remains.
    expect([...r.get('gx')!.data]).toEqual([-0.25, 4, 7]);
  });
});

// ---- the counter-based RNG, re-derived with BigInt arithmetic --------------

const M32 = 0xffffffffn;
function mixBig(x: bigint): bigint {
  x &= M32;
  x ^= x >> 16n;
  x = (x * 0x7feb352dn) & M32;
  x ^= x >> 15n;
  x = (x * 0x846ca68bn) & M32;
  x ^= x >> 16n;
  return x;
}
function uniformBig(seed: number, step: number, key: number, i: number): number {
  const u32 = (v: number) => BigInt(v >>> 0);
  const stream = mixBig(mixBig(mixBig(u32(seed) ^ 0x5bd1e995n) ^ u32(step)) ^ u32(key));
  return Number(mixBig(stream ^ mixBig(BigInt(i))) >> 8n) / 16777216;
}

describe('randomUniform and dropout', () => {
  const draw = (seed: number, step: number, shape: Shape, key: number) => {
    const g = new Graph();
    const s = g.input('seed', [], 'i32');
    const t = g.input('step', [], 'i32');
    g.output('u', emit('randomUniform', [s, t], { shape: [...shape], key }));
    return evaluate(g, { seed: NDArray.scalar(seed, 'i32'), step: NDArray.scalar(step, 'i32') }).get('u')!;
  };

  it('matches the documented (seed, step, key, index) hash bit for bit', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed, step, key) => {
        const u = draw(seed, step, [3, 4], key);
        expect([...u.data]).toEqual(Array.from({ length: 12 }, (_, i) => uniformBig(seed, step, key, i)));
      }),
      { seed: SEED, numRuns: 20 },
    );
  });

  it('is uniform on [0, 1) and changes with the step', () => {
    const a = draw(1, 0, [4096], 99).data;
    const b = draw(1, 1, [4096], 99).data;
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThan(1);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(a.filter((v, i) => v === b[i]).length).toBeLessThan(5);
  });

  it('dropout zeroes about p of the values and scales the rest by 1/(1-p)', () => {
    const g = new Graph();
    const x = g.input('x', [2000]);
    g.output('y', ops.dropout(x, 0.25, 1234));
    const xs = Array.from({ length: 2000 }, (_, i) => 1 + (i % 7));
    const y = evaluate(g, { x: NDArray.from([2000], xs), 'rng.seed': NDArray.scalar(5, 'i32'), 'rng.step': NDArray.scalar(3, 'i32') }).get('y')!;
    let zeros = 0;
    y.data.forEach((v, i) => {
      const keep = uniformBig(5, 3, 1234, i) >= 0.25;
      expect(v).toBe(keep ? xs[i] / 0.75 : 0);
      if (!keep) zeros++;
    });
    expect(Math.abs(zeros / 2000 - 0.25)).toBeLessThan(0.03);
  });
});
