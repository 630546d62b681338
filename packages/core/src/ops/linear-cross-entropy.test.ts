import { describe, expect, it } from 'vitest';
import { grad } from '../autodiff/grad.js';
import { castScalar } from '../dtype.js';
import { Graph } from '../graph/graph.js';
import { planMemory, valueBytes } from '../memory/planner.js';
import { evaluate } from '../reference/evaluate.js';
import { NDArray } from '../reference/ndarray.js';
import * as ops from './index.js';

/** A seeded stream in [-1, 1) (an LCG: the test needs variety, not quality). */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

interface Case {
  n: number;
  h: number;
  v: number;
  hidden: number[];
  weight: number[];
  labels: number[];
}

function makeCase(n: number, h: number, v: number, seed: number): Case {
  const r = seeded(seed);
  const hidden = Array.from({ length: n * h }, () => 2 * r());
  const weight = Array.from({ length: v * h }, () => 1.5 * r());
  const labels = Array.from({ length: n }, (_, i) => (i % 4 === 3 ? -100 : Math.floor(((r() + 1) / 2) * v)));
  return { n, h, v, hidden, weight, labels };
}

/** The loss written out in float64 with plain loops, independent of the graph code. */
function referenceLoss(c: Case, softcap: number, weight = c.weight): number {
  let total = 0;
  let count = 0;
  for (let i = 0; i < c.n; i++) {
    if (c.labels[i] === -100) continue;
    const z: number[] = [];
    for (let v = 0; v < c.v; v++) {
      let d = 0;
      for (let k = 0; k < c.h; k++) d += c.hidden[i * c.h + k] * weight[v * c.h + k];
      z.push(softcap ? softcap * Math.tanh(d / softcap) : d);
    }
    const m = Math.max(...z);
    const lse = m + Math.log(z.reduce((s, x) => s + Math.exp(x - m), 0));
    total += lse - z[c.labels[i]];
    count++;
  }
  return total / count;
}

function lossGraph(c: Case, chunk: number | 'unchunked', softcap: number, weightDtype: 'f32' | 'bf16' = 'f32') {
  const g = new Graph();
  const hidden = g.input('hidden', [c.n, c.h]);
  const weight = g.input('weight', [c.v, c.h], weightDtype);
  const labels = g.input('labels', [c.n], 'i32');
  let loss: ReturnType<typeof ops.crossEntropy>;
  if (chunk === 'unchunked') {
    let logits = ops.matmul(hidden, weight, { transB: true });
    if (softcap) logits = ops.mul(ops.tanh(ops.div(logits, softcap)), softcap);
    loss = ops.crossEntropy(logits, labels);
  } else {
    loss = ops.linearCrossEntropy(hidden, weight, labels, { chunk, softcap });
  }
  g.output('loss', loss);
  const wrt = weightDtype === 'f32' ? [hidden, weight] : [hidden];
  grad(loss, wrt).forEach((t, i) => g.output(`d${i}`, t));
  const feeds = {
    hidden: NDArray.from([c.n, c.h], c.hidden),
    weight: NDArray.from([c.v, c.h], c.weight, weightDtype),
    labels: NDArray.from([c.n], c.labels, 'i32'),
  };
  return { g, feeds, outputs: ['loss', ...wrt.map((_, i) => `d${i}`)] };
}

function run(c: Case, chunk: number | 'unchunked', softcap: number, weightDtype: 'f32' | 'bf16' = 'f32') {
  const { g, feeds, outputs } = lossGraph(c, chunk, softcap, weightDtype);
  const res = evaluate(g, feeds, outputs);
  return outputs.map((o) => Array.from(res.get(o)!.data));
}

const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('linearCrossEntropy (vocabulary-chunked LM head + cross-entropy)', () => {
  const c = makeCase(6, 5, 23, 7);

  for (const softcap of [0, 2.5]) {
    it(`matches the float64 loss written out by hand for token blocks that do and do not divide the tokens (softcap ${softcap})`, () => {
      const want = referenceLoss(c, softcap);
      for (const chunk of [1, 4, 5, 6, 64]) {
        const [[loss]] = run(c, chunk, softcap);
        expect(Math.abs(loss - want), `chunk ${chunk}`).toBeLessThan(1e-12);
      }
    });

    it(`gives the unchunked graph's gradients for hidden and weight (softcap ${softcap})`, () => {
      const [loss0, dh0, dw0] = run(c, 'unchunked', softcap);
      for (const chunk of [1, 4, 6]) {
        const [loss, dh, dw] = run(c, chunk, softcap);
        expect(Math.abs(loss[0] - loss0[0])).toBeLessThan(1e-12);
        expect(maxDiff(dh, dh0), `dHidden, chunk ${chunk}`).toBeLessThan(1e-12);
        expect(maxDiff(dw, dw0), `dWeight, chunk ${chunk}`).toBeLessThan(1e-12);
        // Not trivially equal: the gradients carry signal.
        expect(Math.max(...dw.map(Math.abs))).toBeGreaterThan(1e-3);
      }
    });
  }

  it('reads a bf16 weight table and gives it no gradient', () => {
    const rounded = c.weight.map((x) => castScalar(x, 'bf16'));
    const held = { ...c, weight: rounded };
    const [[loss], dh] = run(held, 4, 0, 'bf16');
    expect(Math.abs(loss - referenceLoss(c, 0, rounded))).toBeLessThan(1e-12);
    // dHidden equals the f32 graph's on the same (rounded) values.
    expect(maxDiff(dh, run(held, 'unchunked', 0)[1])).toBeLessThan(1e-12);
    expect(dh.length).toBe(c.n * c.h);
  });

  it('skips ignored labels: all ignored gives 0 loss and 0 gradient', () => {
    const ignored = { ...c, labels: c.labels.map(() => -100) };
    const [[loss], dh, dw] = run(ignored, 4, 0);
    expect(loss).toBe(0);
    expect(Math.max(...dh.map(Math.abs), ...dw.map(Math.abs))).toBe(0);
  });

  it('rejects labels of the wrong shape and a bad chunk with errors that say what to pass', () => {
    const g = new Graph();
    const h = g.input('h', [4, 3]);
    const w = g.input('w', [9, 3]);
    expect(() => ops.linearCrossEntropy(h, w, g.input('y', [5], 'i32'), { chunk: 4 })).toThrow(/labels must be i32 \[4\]/);
    expect(() => ops.linearLogSumExp(h, w, { chunk: 0 })).toThrow(/chunk must be a positive integer/);
    expect(() => ops.linearLogSumExp(h, g.input('w2', [9, 4]), { chunk: 2 })).toThrow(/hidden width 3 differs from weight width 4/);
  });
});

describe('linearCrossEntropy memory (planner, expansion run unfused)', () => {
  // A trainable weight: the backward makes dHidden and dWeight, as an untied lm_head under modules_to_save.
  function trainPeak(n: number, h: number, v: number, chunk: number | 'unchunked'): number {
    const g = new Graph();
    const hidden = g.input('hidden', [n, h]);
    const weight = g.param('weight', [v, h], { trainable: true });
    const labels = g.input('labels', [n], 'i32');
    const loss =
      chunk === 'unchunked'
        ? ops.crossEntropy(ops.matmul(hidden, weight, { transB: true }), labels)
        : ops.linearCrossEntropy(hidden, weight, labels, { chunk });
    g.output('loss', loss);
    grad(loss, [hidden, weight]).forEach((t, i) => g.output(`d${i}`, t));
    return planMemory(g, undefined, { fusedOps: new Set() }).plannedPeakBytes;
  }

  it('holds one [chunk, vocab] block at a time: the peak does not grow with tokens x vocab', () => {
    const [h, v, chunk] = [4, 2048, 16];
    const small = trainPeak(64, h, v, chunk);
    const large = trainPeak(512, h, v, chunk);
    const logitsGrowth = valueBytes([512 - 64, v], 'f32');
    // Growth: hidden, its gradient and per-token scalars (a few times 448 x 4 values); never the logits.
    expect(large - small).toBeLessThan(logitsGrowth / 8);
    // The unchunked graph holds the logits (and their gradient) whole.
    expect(trainPeak(512, h, v, 'unchunked') - large).toBeGreaterThan(valueBytes([512, v], 'f32'));
  });
});
