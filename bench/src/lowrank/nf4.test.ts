import { describe, expect, it } from 'vitest';
import { evaluate, Graph, NDArray, ops } from '@lowrank/core';
import { quantizeNf4 } from './nf4.js';

/** Dequantizes with core's own ops on the float64 reference evaluator. */
function dequantize(q: ReturnType<typeof quantizeNf4>, n: number, k: number): Float64Array {
  const g = new Graph();
  const codes = g.input('codes', [q.codes.length], 'u8');
  const feeds: Record<string, NDArray> = { codes: NDArray.from([q.codes.length], q.codes, 'u8') };
  let absmax;
  if (q.absmax) {
    absmax = g.input('absmax', [q.absmax.length]);
    feeds.absmax = NDArray.from([q.absmax.length], q.absmax);
  } else {
    const blocks = q.absmaxCodes!.length;
    absmax = ops.dequantizeDynamic8(g.input('ac', [blocks], 'u8'), g.input('as', [q.absmaxScale!.length]), g.input('ao', []));
    feeds.ac = NDArray.from([blocks], q.absmaxCodes!, 'u8');
    feeds.as = NDArray.from([q.absmaxScale!.length], q.absmaxScale!);
    feeds.ao = NDArray.from([], Float32Array.from([q.absmaxOffset!]));
  }
  g.output('w', ops.nf4Dequantize(codes, absmax, { shape: [n, k] }));
  return Float64Array.from(evaluate(g, feeds).get('w')!.data);
}

describe('NF4 quantization for the QLoRA participant', () => {
  it('codes codebook multiples exactly, even element in the high nibble', () => {
    const table = ops.NF4_CODEBOOK;
    const w = new Float32Array(128);
    for (let i = 0; i < 128; i++) w[i] = Math.fround(table[(i * 5) % 16] * (i < 64 ? 2 : 0.5));
    w[0] = 2; // block 0's absmax is 2 (code 15), block 1's is 0.5
    w[64] = -0.5;
    const q = quantizeNf4(w, false);
    expect(Array.from(q.absmax!)).toEqual([2, 0.5]);
    expect(q.codes[0] >> 4).toBe(15);
    expect(q.codes[0] & 0x0f).toBe(5);
    expect(q.codes[32] >> 4).toBe(0);
    const back = dequantize(q, 2, 64);
    for (let i = 0; i < 128; i++) expect(back[i]).toBeCloseTo(w[i], 6);
    expect((8 * q.storedBytes) / w.length).toBe(4.5);
  });

  it('double quantization stays within 4.13 bits per parameter and close to the single-quantized weights', () => {
    const n = 64;
    const k = 512;
    const w = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 97) / 50));
    const single = dequantize(quantizeNf4(w, false), n, k);
    const dq = quantizeNf4(w, true);
    const double = dequantize(dq, n, k);
    expect((8 * dq.storedBytes) / w.length).toBeLessThan(4.13);
    let err = 0;
    let ref = 0;
    for (let i = 0; i < w.length; i++) {
      err += (double[i] - single[i]) ** 2;
      ref += single[i] ** 2;
    }
    expect(Math.sqrt(err / ref)).toBeLessThan(0.01);
    let qerr = 0;
    for (let i = 0; i < w.length; i++) qerr += (single[i] - w[i]) ** 2;
    expect(Math.sqrt(qerr / ref)).toBeLessThan(0.15); // NF4's own error on this signal
  });
});
