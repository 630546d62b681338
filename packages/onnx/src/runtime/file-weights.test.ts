import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bf16BitsToNumber, evaluate, Graph, NDArray, grad, numberToBf16Bits, ops, type HostTensor, type LazyHostTensor } from '@lowrank/core';
import { createOrtBackend } from '../ort-backend.js';
import { inspectModel } from '../model/inspect-model.js';

/*
 * Weights held once: a frozen bf16 weight handed over as a file range is read
 * by ORT itself (external data), stays 16-bit inside the session (upcast per
 * use, never constant-folded into an f32 copy), and the session cache keeps at
 * most its weight budget alive across executables.
 */
const dir = mkdtempSync(join(tmpdir(), 'lowrank-filew-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OUT = 384;
const IN = 256;

/** A bf16 weight written at an odd offset of a file (as in a safetensors file), and its lazy handle. */
function bf16Weight(seed: number): { lazy: LazyHostTensor; values: Float64Array; reads: () => number } {
  const n = OUT * IN;
  const bits = new Uint16Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    bits[i] = numberToBf16Bits(Math.sin(i * 0.37 + seed) * 0.05);
    values[i] = bf16BitsToNumber(bits[i]);
  }
  const offset = 8 + 2 * seed + 1; // unaligned on purpose
  const file = join(dir, `w${seed}.bin`);
  const bytes = new Uint8Array(offset + 2 * n);
  bytes.set(new Uint8Array(bits.buffer), offset);
  writeFileSync(file, bytes);
  let reads = 0;
  return {
    values,
    reads: () => reads,
    lazy: {
      shape: [OUT, IN],
      dtype: 'bf16',
      file: { path: file, offset, byteLength: 2 * n },
      read: async () => {
        reads++;
        return bits.slice();
      },
    },
  };
}

function lossGraph(): Graph {
  const g = new Graph();
  const x = g.param('x', [4, IN], { trainable: true });
  const w = g.param('w', [OUT, IN], { dtype: 'bf16' });
  const loss = ops.sum(ops.tanh(ops.matmul(x, ops.cast(w, 'f32'), { transB: true })));
  g.output('loss', loss);
  g.output('gx', grad(loss, [x])[0]);
  return g;
}

const xValue: HostTensor = { shape: [4, IN], dtype: 'f32', data: Float32Array.from({ length: 4 * IN }, (_, i) => Math.cos(i) * 0.3) };

describe('file-backed frozen weights on the ORT backend', () => {
  it('a bf16 file range is read by ORT, matches float64, and is never folded into an f32 initializer', async () => {
    const w = bf16Weight(1);
    const g = lossGraph();
    const optimizedPath = join(dir, 'opt.onnx');
    const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1, optimizedModelFilePath: optimizedPath });
    const exe = await backend.compile(g);
    await exe.setParameters({ x: xValue, w: w.lazy });
    const got = await exe.run({});
    expect(w.reads(), 'ORT read the bytes itself: JavaScript never did').toBe(0);
    expect(backend.memoryStats().currentBytes, 'no frozen bytes held in JavaScript').toBeLessThan(4 * IN * 4 + 1024);
    const want = evaluate(g, { x: NDArray.fromHost(xValue.shape, 'f32', xValue.data), w: new NDArray([OUT, IN], 'bf16', w.values) }, ['loss', 'gx']);
    expect(Math.abs(got.loss.data[0] - want.get('loss')!.data[0])).toBeLessThan(1e-4 * Math.abs(want.get('loss')!.data[0]) + 1e-5);
    const gx = want.get('gx')!.data;
    let err = 0;
    for (let i = 0; i < gx.length; i++) err = Math.max(err, Math.abs(got.gx.data[i] - gx[i]));
    expect(err).toBeLessThan(1e-5);
    const back = await exe.getParameters(['w']);
    expect(Array.from(back.w.data as Uint16Array).slice(0, 5)).toEqual(Array.from(Uint16Array.from(w.values.slice(0, 5), numberToBf16Bits)));
    backend.dispose();
    const m = inspectModel(readFileSync(optimizedPath));
    const bigFloat = m.initializerInfo.filter((t) => t.dataType === 1 && t.dims.reduce((p, d) => p * d, 1) >= OUT * IN);
    expect(bigFloat.map((t) => t.name)).toEqual([]);
  });

  it('past the live-session weight budget, a second executable releases the first, which rebuilds on its next run', async () => {
    const w = bf16Weight(2);
    const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1, maxLiveSessionBytes: 1.5 * OUT * IN * 2 });
    const a = await backend.compile(lossGraph());
    const g2 = lossGraph();
    g2.output('twice', ops.mul(g2.outputTensor('loss'), 2));
    const b = await backend.compile(g2, { outputs: ['twice'] });
    await a.setParameters({ x: xValue, w: w.lazy });
    await b.setParameters({ x: xValue, w: w.lazy });
    const first = (await a.run({})).loss.data[0];
    const twice = (await b.run({})).twice.data[0];
    const again = (await a.run({})).loss.data[0];
    expect(twice).toBeCloseTo(2 * first, 4);
    expect(again).toBe(first);
    const stats = (backend as ReturnType<typeof createOrtBackend>).sessionCacheStats();
    expect(stats.budgetEvictions).toBe(2);
    expect(stats.sessions).toBe(1);
    backend.dispose();
  });

  it('a lazy value without a file (converted as it is read) is written to the spill file once, not kept in JavaScript', async () => {
    const w = bf16Weight(3);
    const withoutFile: LazyHostTensor = { shape: w.lazy.shape, dtype: w.lazy.dtype, read: w.lazy.read };
    const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1 });
    const exe = await backend.compile(lossGraph());
    await exe.setParameters({ x: xValue, w: withoutFile });
    expect(w.reads(), 'read once').toBe(1);
    expect(backend.memoryStats().currentBytes, 'the 196 KB weight is not held in JavaScript').toBeLessThan(4 * IN * 4 + 1024);
    const got = await exe.run({});
    const ref = await backend.compile(lossGraph());
    await ref.setParameters({ x: xValue, w: w.lazy });
    expect((await ref.run({})).loss.data[0]).toBe(got.loss.data[0]);
    backend.dispose();
  });
});

