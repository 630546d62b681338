import { afterAll, describe, expect, it } from 'vitest';
import { Graph, ops, rng } from '@lowrank/core';
import { createOrtBackend } from '../ort-backend.js';

const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1 });
afterAll(() => backend.dispose());

describe('counter-based RNG lowered to ONNX integer ops', () => {
  it('randomUniform is bit-identical to the JS reference for many seeds, steps and keys', async () => {
    const g = new Graph();
    const keys = [0, 1, 0x7fffffff, 0xdeadbeef, rng.stringKey('model.layers.3.mlp#0')];
    keys.forEach((k, i) => g.output(`u${i}`, ops.randomUniform(g, [4099], k)));
    const exe = await backend.compile(g);
    for (const [seed, step] of [
      [0, 0],
      [42, 1],
      [-1, 2147483647],
      [-2147483648, -5],
      [123456789, 99999],
    ]) {
      const out = await exe.run({ 'rng.seed': { shape: [], dtype: 'i32', data: Int32Array.of(seed) }, 'rng.step': { shape: [], dtype: 'i32', data: Int32Array.of(step) } });
      keys.forEach((k, i) => {
        const stream = rng.streamWord(seed, step, k);
        const expected = Float32Array.from({ length: 4099 }, (_, j) => rng.uniformAt(stream, j));
        const got = out[`u${i}`].data as Float32Array;
        let mismatches = 0;
        for (let j = 0; j < expected.length; j++) if (got[j] !== expected[j]) mismatches++;
        expect(mismatches, `seed ${seed} step ${step} key ${k}`).toBe(0);
      });
    }
    exe.dispose();
  });

  it('the uniforms look uniform (mean near 1/2, all in [0, 1))', async () => {
    const g = new Graph();
    g.output('u', ops.randomUniform(g, [20000], 7));
    const exe = await backend.compile(g);
    const out = await exe.run({ 'rng.seed': { shape: [], dtype: 'i32', data: Int32Array.of(5) }, 'rng.step': { shape: [], dtype: 'i32', data: Int32Array.of(0) } });
    const u = out.u.data as Float32Array;
    const mean = u.reduce((s, v) => s + v, 0) / u.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
  });
});
