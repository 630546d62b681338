import { describe, expect, it } from 'vitest';
import { constantValues } from './recompute-order.js';
import { Graph, ops, schedule, type HostTensor } from '@lowrank/core';
import { createOrtBackend } from '../ort-backend.js';
import { promptOrderGates } from './prompt-order.js';

/*
 * A chain of layers where each layer's activation also feeds a small statistic
 * read only by the last node: ORT would compute every statistic at the end and
 * keep every activation alive until then. Each statistic must get a reader
 * soon after it (a gate on the next layer's bias), and the values must not change.
 */

const LAYERS = 4;
const ROWS = 256;
const WIDTH = 1024; // activations of 262,144 elements: large enough to be worth freeing early

function chain(): { g: Graph; values: Record<string, HostTensor> } {
  const g = new Graph();
  let h = g.input('x', [ROWS, WIDTH], 'f32');
  const stats = [];
  const values: Record<string, HostTensor> = {};
  for (let l = 0; l < LAYERS; l++) {
    const w = g.param(`w${l}`, [WIDTH, WIDTH]);
    const b = g.param(`b${l}`, [WIDTH], { trainable: true });
    values[`w${l}`] = { shape: [WIDTH, WIDTH], dtype: 'f32', data: Float32Array.from({ length: WIDTH * WIDTH }, (_, i) => Math.sin(i * 0.37 + l) / 32) };
    values[`b${l}`] = { shape: [WIDTH], dtype: 'f32', data: Float32Array.from({ length: WIDTH }, (_, i) => Math.cos(i + l) / 8) };
    h = ops.tanh(ops.add(ops.matmul(h, w), b));
    stats.push(ops.sum(ops.mul(h, h)));
  }
  let total = ops.sum(h);
  for (const s of stats) total = ops.add(total, s);
  g.output('total', total);
  return { g, values };
}

/** The same computation in float64. */
function reference(x: Float32Array, values: Record<string, HostTensor>): number {
  let h = Float64Array.from(x);
  let total = 0;
  for (let l = 0; l < LAYERS; l++) {
    const w = values[`w${l}`].data;
    const b = values[`b${l}`].data;
    const next = new Float64Array(ROWS * WIDTH);
    for (let r = 0; r < ROWS; r++) {
      const row = new Float64Array(WIDTH);
      for (let k = 0; k < WIDTH; k++) {
        const a = h[r * WIDTH + k];
        if (a === 0) continue;
        for (let j = 0; j < WIDTH; j++) row[j] += a * w[k * WIDTH + j];
      }
      for (let j = 0; j < WIDTH; j++) next[r * WIDTH + j] = Math.tanh(row[j] + b[j]);
    }
    h = next;
    for (const v of h) total += v * v;
  }
  for (const v of h) total += v;
  return total;
}

describe('nodes whose small result is read late are read early through a gate', () => {
  it('each layer statistic gets a gate on a later layer', () => {
    const { g } = chain();
    const order = schedule(g, [g.outputTensor('total').id]);
    const inputParams = (name: string) => name.startsWith('b');
    const gates = promptOrderGates(g, order, constantValues(g, order, inputParams), new Set());
    const gated = [...gates.values()].flat();
    // The statistics of all layers but the last (nothing follows it) wait on nothing late any more.
    expect(gated.length).toBeGreaterThanOrEqual(LAYERS - 1);
    for (const { after, input } of gated) {
      expect(g.node(after).shape).toEqual([]);
      expect(g.node(input).op).toBe('param');
      expect(String(g.node(input).attrs.name)).toMatch(/^b\d$/);
    }
  });

  it('the gated graph computes the same value as a float64 reference', async () => {
    const { g, values } = chain();
    const x = Float32Array.from({ length: ROWS * WIDTH }, (_, i) => Math.sin(i * 0.013) / 4);
    const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 2 });
    try {
      const exe = await backend.compile(g);
      await exe.setParameters(values);
      const out = await exe.run({ x: { shape: [ROWS, WIDTH], dtype: 'f32', data: x } });
      const want = reference(x, values);
      expect(Math.abs(out.total.data[0] - want) / Math.abs(want)).toBeLessThan(1e-5);
    } finally {
      backend.dispose();
    }
  });
});
