import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { grad, Graph, ops, type LazyHostTensor } from '@lowrank/core';
import { createOrtBackend } from '../ort-backend.js';
import { PREPACK_LIMIT_BYTES } from './create-session.js';

/*
 * ORT pre-packs each constant matmul operand into a copy of its own, one per
 * use (x·Wᵀ forward, dY·W backward), which for a large frozen f32 base more
 * than doubles the weights held. Past PREPACK_LIMIT_BYTES of initializers
 * lowrank turns pre-packing off: the process then holds the weight about once.
 */
const dir = mkdtempSync(join(tmpdir(), 'lowrank-prepack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rss = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

describe('pre-packing is off for large frozen weights', () => {
  it.skipIf(process.platform !== 'linux')('a 320 MB f32 weight used forward and backward adds about one copy to the process, not three', async () => {
    const [out, inp] = [8192, 10240];
    const bytes = out * inp * 4;
    expect(bytes).toBeGreaterThan(PREPACK_LIMIT_BYTES);
    // Written a row at a time so the test itself never holds the weight.
    const file = join(dir, 'w.bin');
    const fd = openSync(file, 'w');
    const row = new Float32Array(inp);
    for (let r = 0; r < out; r++) {
      for (let c = 0; c < inp; c++) row[c] = Math.sin(r * 0.01 + c * 0.003) * 0.01;
      writeSync(fd, new Uint8Array(row.buffer));
    }
    closeSync(fd);
    const lazy: LazyHostTensor = {
      shape: [out, inp],
      dtype: 'f32',
      file: { path: file, offset: 0, byteLength: bytes },
      read: () => Promise.reject(new Error('the weight must be read by ORT, not by JavaScript')),
    };
    const g = new Graph();
    const x = g.param('x', [4, inp], { trainable: true });
    const w = g.param('w', [out, inp]);
    const loss = ops.sum(ops.tanh(ops.matmul(x, w, { transB: true })));
    g.output('loss', loss);
    g.output('gx', grad(loss, [x])[0]);
    const backend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1 });
    const before = rss();
    const exe = await backend.compile(g);
    await exe.setParameters({ x: { shape: [4, inp], dtype: 'f32', data: new Float32Array(4 * inp).fill(0.01) }, w: lazy });
    const result = await exe.run({});
    const grown = rss() - before;
    backend.dispose();
    expect(Number.isFinite((result.loss.data as Float32Array)[0])).toBe(true);
    // One copy (mapped or read) plus ORT's working memory; pre-packed, it was about three copies.
    expect(grown).toBeLessThan(1.5 * bytes);
  });
});
