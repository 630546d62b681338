import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createReferenceBackend, defineOp, emit, evaluate, grad, Graph, NDArray, ops, SignatureError, UnsupportedOpError, type HostTensor } from '@lowrank/core';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { createOrtBackend } from './ort-backend.js';
import { exportOnnx } from './export-onnx.js';
import { OrtSessionError } from './errors.js';
import { graphHash } from './graph-hash.js';
import { defineLowering } from './lower/lowering-registry.js';
import { inspectModel } from './model/inspect-model.js';
import { seededRandom } from '../test/reference-check.js';

const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1 });
const dir = mkdtempSync(join(tmpdir(), 'lowrank-onnx-test-'));
afterAll(() => {
  backend.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function host(shape: number[], seed: number, scale = 1): HostTensor {
  const r = seededRandom(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  return { shape, dtype: 'f32', data: Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale) };
}

/** y = tanh(x·W + f); loss = mean((y - t)²); W ← W - lr·dW inside the graph. */
function sgdGraph(lr: number) {
  const g = new Graph();
  const x = g.input('x', [4, 3]);
  const t = g.input('t', [4, 5]);
  const w = g.param('w', [3, 5], { trainable: true });
  const f = g.param('f', [5]);
  const y = ops.tanh(ops.add(ops.matmul(x, w), f));
  const d = ops.sub(y, t);
  const loss = ops.mean(ops.mul(d, d));
  const [dw] = grad(loss, [w]);
  g.output('loss', loss);
  g.output('y', y);
  g.output('w.next', ops.sub(w, ops.mul(dw, lr)));
  return g;
}

describe('ORT executable', () => {
  it('keeps trainable state host-side and applies in-graph updates like the reference', async () => {
    const values = { w: host([3, 5], 1), f: host([5], 2) };
    const feeds = { x: host([4, 3], 3), t: host([4, 5], 4) };
    const sig = { outputs: ['loss'], updates: { w: 'w.next' } };
    const ort = await backend.compile(sgdGraph(0.5), sig);
    const ref = await createReferenceBackend().compile(sgdGraph(0.5), sig);
    await ort.setParameters(values);
    await ref.setParameters(values);
    const losses: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const a = await ort.run(feeds);
      const b = await ref.run(feeds);
      losses.push([a.loss.data[0], b.loss.data[0]]);
    }
    for (const [a, b] of losses) expect(Math.abs(a - b)).toBeLessThan(1e-6 * Math.max(1, Math.abs(b)));
    expect(losses[2][0]).toBeLessThan(losses[0][0]);
    const wOrt = (await ort.getParameters(['w'])).w.data;
    const wRef = (await ref.getParameters(['w'])).w.data;
    for (let i = 0; i < wRef.length; i++) expect(Math.abs(wOrt[i] - wRef[i])).toBeLessThan(1e-6);
    // The frozen parameter is unchanged.
    expect(Array.from((await ort.getParameters(['f'])).f.data)).toEqual(Array.from(values.f.data));
    ort.dispose();
  });

  it('rebuilds the session when a frozen parameter is replaced', async () => {
    const exe = await backend.compile(sgdGraph(0.1), { outputs: ['y'] });
    await exe.setParameters({ w: host([3, 5], 1), f: { shape: [5], dtype: 'f32', data: new Float32Array(5) } });
    const feeds = { x: { shape: [4, 3], dtype: 'f32' as const, data: new Float32Array(12) }, t: host([4, 5], 4) };
    expect(Array.from((await exe.run(feeds)).y.data)).toEqual(new Array(20).fill(0));
    await exe.setParameters({ f: { shape: [5], dtype: 'f32', data: new Float32Array(5).fill(0.5) } });
    const y = (await exe.run(feeds)).y.data;
    expect(y[0]).toBeCloseTo(Math.tanh(0.5), 6);
    exe.dispose();
  });

  it('a frozen parameter given as a feed is used for that run and after', async () => {
    const exe = await backend.compile(sgdGraph(0.1), { outputs: ['y'] });
    await exe.setParameters({ w: host([3, 5], 1), f: { shape: [5], dtype: 'f32', data: new Float32Array(5) } });
    const x = { shape: [4, 3], dtype: 'f32' as const, data: new Float32Array(12) };
    const y = (await exe.run({ x, t: host([4, 5], 4), f: { shape: [5], dtype: 'f32', data: new Float32Array(5).fill(-1) } })).y.data;
    expect(y[0]).toBeCloseTo(Math.tanh(-1), 6);
    exe.dispose();
  });

  it('takes float64 host data for integer parameters and outputs named like a parameter', async () => {
    const g = new Graph();
    const table = g.param('table', [4, 2]);
    const idx = g.param('idx', [3], { dtype: 'i32' });
    g.output('table', ops.gather(table, idx, 0));
    const exe = await backend.compile(g);
    await exe.setParameters({
      table: { shape: [4, 2], dtype: 'f32', data: Float64Array.from([0, 1, 10, 11, 20, 21, 30, 31]) },
      idx: { shape: [3], dtype: 'i32', data: Float64Array.from([3, 0, 3]) },
    });
    expect(Array.from((await exe.run({})).table.data)).toEqual([30, 31, 0, 1, 30, 31]);
    exe.dispose();
  });

  it('says which feed is missing or misshapen', async () => {
    const exe = await backend.compile(sgdGraph(0.1), { outputs: ['loss'] });
    await exe.setParameters({ w: host([3, 5], 1), f: host([5], 2) });
    await expect(exe.run({ x: host([4, 3], 3) })).rejects.toThrow(/no value for input 't'/);
    await expect(exe.run({ x: host([4, 2], 3), t: host([4, 5], 4) })).rejects.toThrow(SignatureError);
    const fresh = await backend.compile(sgdGraph(0.1), { outputs: ['loss'] });
    await expect(fresh.run({ x: host([4, 3], 3), t: host([4, 5], 4) })).rejects.toThrow(/frozen parameter 'f' has no value/);
    exe.dispose();
    fresh.dispose();
  });

  it('shares sessions between executables of the same graph and frozen values, not across different ones', async () => {
    const b = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1 });
    const feeds = { x: host([4, 3], 3), t: host([4, 5], 4) };
    const runWith = async (f: HostTensor) => {
      const exe = await b.compile(sgdGraph(0.1), { outputs: ['loss'] });
      await exe.setParameters({ w: host([3, 5], 1), f });
      const loss = (await exe.run(feeds)).loss.data[0];
      exe.dispose();
      return loss;
    };
    const l1 = await runWith(host([5], 2));
    expect(b.sessionCacheStats()).toMatchObject({ hits: 0, misses: 1, sessions: 1 });
    expect(await runWith(host([5], 2))).toBe(l1);
    expect(b.sessionCacheStats().hits).toBe(1);
    const l3 = await runWith(host([5], 77));
    expect(b.sessionCacheStats()).toMatchObject({ hits: 1, misses: 2 });
    expect(l3).not.toBe(l1);
    b.dispose();
  });

  it('hashes graphs by structure and shapes', () => {
    const a = sgdGraph(0.1);
    const b = sgdGraph(0.1);
    const c = sgdGraph(0.2);
    const root = (g: Graph) => [g.outputs.get('loss')!];
    expect(graphHash(a, root(a))).toBe(graphHash(b, root(b)));
    const rootNext = (g: Graph) => [g.outputs.get('w.next')!];
    expect(graphHash(a, rootNext(a))).not.toBe(graphHash(c, rootNext(c)));
  });
});

describe('errors', () => {
  defineOp({ name: 'onnxTestUnlowered', kind: 'primitive', infer: ([x]) => x, reference: ([x]) => x });
  defineOp({ name: 'onnxTestBadKernel', kind: 'primitive', infer: ([x]) => x, reference: ([x]) => x });
  defineLowering('onnxTestBadKernel', ({ b, inputs }) => b.op('NoSuchOnnxOperator', inputs));

  it('an op without a lowering is an UnsupportedOpError naming the op and the backend', async () => {
    const g = new Graph();
    g.output('y', ops.exp(emit('onnxTestUnlowered', [g.input('x', [2])])));
    const err = await backend.compile(g).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedOpError);
    expect(String(err)).toMatch(/'cpu'.*'onnxTestUnlowered'/);
  });

  it("session creation failures carry ORT's message and our context", async () => {
    const g = new Graph();
    g.output('y', emit('onnxTestBadKernel', [g.input('x', [2])]));
    const exe = await backend.compile(g);
    const err = await exe.run({ x: { shape: [2], dtype: 'f32', data: new Float32Array(2) } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrtSessionError);
    expect(String(err)).toMatch(/NoSuchOnnxOperator/);
    expect(String(err)).toMatch(/backend 'cpu'.*core nodes/);
  });
});

describe('export and external data', () => {
  function mlp() {
    const g = new Graph();
    const x = g.input('input', [2, 16]);
    const w1 = g.param('fc1.weight', [32, 16]);
    const w2 = g.param('fc2.weight', [4, 32]);
    const h = ops.gelu(ops.layerNorm(ops.matmul(x, w1, { transB: true }), g.param('ln.weight', [32]), g.param('ln.bias', [32])));
    g.output('logits', ops.matmul(h, w2, { transB: true }));
    return g;
  }
  const values = { 'fc1.weight': host([32, 16], 5), 'fc2.weight': host([4, 32], 6), 'ln.weight': host([32], 7), 'ln.bias': host([32], 8) };
  const input = host([2, 16], 9);

  async function runFile(path: string) {
    const session = await InferenceSession.create(path);
    const out = await session.run({ input: new Tensor('float32', input.data as Float32Array, [2, 16]) });
    await session.release();
    return out.logits.data as Float32Array;
  }

  function reference(): Float64Array {
    const g = mlp();
    const feeds: Record<string, NDArray> = { input: NDArray.fromHost(input.shape, 'f32', input.data) };
    for (const [k, v] of Object.entries(values)) feeds[k] = NDArray.fromHost(v.shape, 'f32', v.data);
    return evaluate(g, feeds, ['logits']).get('logits')!.data;
  }

  it('exportOnnx writes a standalone model that a fresh InferenceSession runs to the reference result', async () => {
    const path = join(dir, 'mlp.onnx');
    const written = exportOnnx(mlp(), values, path);
    expect(written.externalDataPath).toBeUndefined();
    const model = inspectModel(readFileSync(path));
    expect(model.inputs).toEqual(['input']);
    expect(model.outputs).toEqual(['logits']);
    expect(model.initializers).toEqual(expect.arrayContaining(Object.keys(values)));
    expect(Object.keys(model.opsets)).toEqual(['']);
    const got = await runFile(path);
    const want = reference();
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
  });

  it('weights past the threshold go to an external data file and still load', async () => {
    const path = join(dir, 'mlp-ext.onnx');
    const written = exportOnnx(mlp(), values, path, { externalDataThresholdBytes: 1024 });
    expect(written.externalDataPath).toBeDefined();
    expect(existsSync(written.externalDataPath!)).toBe(true);
    expect(statSync(written.externalDataPath!).size).toBeGreaterThanOrEqual(32 * 16 * 4);
    expect(statSync(path).size).toBeLessThan(4096);
    const got = await runFile(path);
    const want = reference();
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
  });

  it('the backend loads sessions through external data when initializers pass its threshold', async () => {
    const b = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1, externalDataThresholdBytes: 1024 });
    const exe = await b.compile(mlp());
    await exe.setParameters(values);
    const got = (await exe.run({ input })).logits.data;
    const want = reference();
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
    b.dispose();
  });
});

