import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { grad, Graph, ops, type HostTensor } from '@lowrank/core';
import { createOrtBackend } from '../ort-backend.js';
import { inspectModel, type InspectedModel } from '../model/inspect-model.js';

/*
 * ORT's constant folding turns any subexpression of initializers into a new
 * initializer held for the session's lifetime. On frozen weights that would be
 * a transposed second copy (x·Wᵀ forward, dY·W backward) or, for 4-bit weights,
 * a full float32 dequantized copy. These tests read the ORT-optimized model.
 */
const dir = mkdtempSync(join(tmpdir(), 'lowrank-fold-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const f32 = (shape: number[], v: number): HostTensor => ({ shape, dtype: 'f32', data: new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(v) });
const bigFloatInitializers = (m: InspectedModel, limit: number) =>
  m.initializerInfo.filter((t) => t.dataType === 1 && t.dims.reduce((p, d) => p * d, 1) >= limit).map((t) => t.name);

async function optimized(g: Graph, values: Record<string, HostTensor>, name: string): Promise<InspectedModel> {
  const path = join(dir, `${name}.onnx`);
  const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1, optimizedModelFilePath: path });
  const exe = await backend.compile(g);
  await exe.setParameters(values);
  await exe.run({});
  backend.dispose();
  return inspectModel(readFileSync(path));
}

describe('frozen weights are not duplicated or expanded by ORT constant folding', () => {
  it('x·Wᵀ forward with dY·W backward keeps W as the only copy', async () => {
    const g = new Graph();
    const x = g.param('x', [4, 256], { trainable: true });
    const w = g.param('w', [384, 256]);
    const loss = ops.sum(ops.tanh(ops.matmul(x, w, { transB: true })));
    g.output('loss', loss);
    g.output('gx', grad(loss, [x])[0]);
    const m = await optimized(g, { x: f32([4, 256], 0.01), w: f32([384, 256], 0.02) }, 'transpose');
    expect(bigFloatInitializers(m, 256 * 384)).toEqual(['w']);
  });

  it('the backward of a 4-bit matmul dequantizes at run time instead of storing a float32 weight', async () => {
    const g = new Graph();
    const x = g.param('x', [2, 256], { trainable: true });
    const codes = g.param('codes', [(512 * 256) / 2], { dtype: 'u8' });
    const absmax = g.param('absmax', [(512 * 256) / 64]);
    const loss = ops.sum(ops.mul(ops.matmulNf4(x, codes, absmax, { shape: [512, 256] }), 0.5));
    g.output('loss', loss);
    g.output('gx', grad(loss, [x])[0]);
    const values = { x: f32([2, 256], 0.1), codes: { shape: [65536], dtype: 'u8' as const, data: new Uint8Array(65536).fill(0x7f) }, absmax: f32([2048], 1) };
    const m = await optimized(g, values, 'nf4');
    expect(bigFloatInitializers(m, 512 * 256)).toEqual([]);
  });

  it('a double-quantized 4-bit weight (absmax computed in the graph) is not folded either, nor a bf16 weight upcast', async () => {
    const g = new Graph();
    const x = g.param('x', [2, 256], { trainable: true });
    const codes = g.param('codes', [(512 * 256) / 2], { dtype: 'u8' });
    // absmax = u8 code * scale + offset: computed from frozen parameters only, like double quantization.
    const absmaxCodes = g.param('absmax_codes', [(512 * 256) / 64], { dtype: 'u8' });
    const scale = g.param('scale', [(512 * 256) / 64]);
    const absmax = ops.add(ops.mul(ops.cast(absmaxCodes, 'f32'), scale), 0.5);
    const w16 = g.param('w16', [384, 256], { dtype: 'bf16' });
    const h = ops.matmulNf4(x, codes, absmax, { shape: [512, 256] });
    const loss = ops.add(ops.sum(ops.mul(h, 0.5)), ops.sum(ops.tanh(ops.matmul(x, ops.cast(w16, 'f32'), { transB: true }))));
    g.output('loss', loss);
    g.output('gx', grad(loss, [x])[0]);
    const values = {
      x: f32([2, 256], 0.1),
      codes: { shape: [65536], dtype: 'u8' as const, data: new Uint8Array(65536).fill(0x7f) },
      absmax_codes: { shape: [2048], dtype: 'u8' as const, data: new Uint8Array(2048).fill(3) },
      scale: f32([2048], 0.25),
      w16: { shape: [384, 256], dtype: 'bf16' as const, data: new Uint16Array(384 * 256).fill(0x3c00) },
    };
    const m = await optimized(g, values, 'nf4-dq');
    expect(bigFloatInitializers(m, 256 * 384)).toEqual([]);
  });

  it('the chunked LM head upcasts a bf16 table one vocabulary block at a time, never the whole table', async () => {
    const vocab = 2048;
    const g = new Graph();
    const h = g.param('h', [64, 128], { trainable: true });
    const table = g.param('table', [vocab, 128], { dtype: 'bf16' });
    const labels = g.input('labels', [64], 'i32');
    const loss = ops.linearCrossEntropy(h, table, labels, { chunk: 16 });
    g.output('loss', loss);
    g.output('gh', grad(loss, [h])[0]);
    const path = join(dir, 'lm-head.onnx');
    const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1, optimizedModelFilePath: path });
    const exe = await backend.compile(g);
    await exe.setParameters({ h: f32([64, 128], 0.01), table: { shape: [vocab, 128], dtype: 'bf16', data: new Uint16Array(vocab * 128).fill(0x3c00) } });
    await exe.run({ labels: { shape: [64], dtype: 'i32', data: Int32Array.from({ length: 64 }, (_, i) => (i * 37) % vocab) } });
    backend.dispose();
    const m = inspectModel(readFileSync(path));
    // 64 tokens in blocks of 16 -> 4 vocabulary blocks of 512 rows: no f32 initializer of even one block.
    expect(bigFloatInitializers(m, 512 * 128)).toEqual([]);
    expect(m.initializerInfo.filter((t) => t.dataType === 16).map((t) => t.name)).toEqual(['table']);
  });
});
