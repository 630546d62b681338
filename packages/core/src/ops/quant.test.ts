import { describe, expect, it } from 'vitest';
import { Graph, evaluate, NDArray, ops } from '../index.js';

describe('nf4Dequantize reference', () => {
  it('reads the even element from the high nibble and scales each block by its absmax', () => {
    const g = new Graph();
    const codes = g.input('codes', [4], 'u8');
    const absmax = g.input('absmax', [2], 'f32');
    g.output('w', ops.nf4Dequantize(codes, absmax, { shape: [2, 4], blockSize: 4 }));
    // Bytes 0x0F, 0x71, 0x8E, 0x23: codes 0,15,7,1 | 8,14,2,3.
    const w = evaluate(g, { codes: NDArray.from([4], [0x0f, 0x71, 0x8e, 0x23], 'u8'), absmax: NDArray.from([2], [2, 0.5]) }).get('w')!;
    const nf4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453];
    expect(Array.from(w.data)).toEqual([
      -1.0 * 2,
      1.0 * 2,
      0,
      Math.fround(nf4[1]) * 2,
      Math.fround(0.07958029955625534) * 0.5,
      Math.fround(0.7229568362236023) * 0.5,
      Math.fround(nf4[2]) * 0.5,
      Math.fround(nf4[3]) * 0.5,
    ]);
  });

  it('fp4 codes are the e2m1 values over 12', () => {
    expect(ops.FP4_CODEBOOK[3]).toBe(1);
    expect(ops.FP4_CODEBOOK[1]).toBeCloseTo(0.0625 / 12, 15);
    expect(ops.FP4_CODEBOOK[11]).toBe(-1);
  });

  it('rejects codes of the wrong length', () => {
    const g = new Graph();
    expect(() => ops.nf4Dequantize(g.input('c', [3], 'u8'), g.input('a', [2]), { shape: [2, 4], blockSize: 4 })).toThrow(/codes must have shape \[4\]/);
  });
});

describe('matmulNf4', () => {
  it('equals x times the transposed dequantized weight', () => {
    const g = new Graph();
    const x = g.input('x', [1, 2], 'f32');
    const codes = g.input('codes', [2], 'u8');
    const absmax = g.input('absmax', [1], 'f32');
    g.output('y', ops.matmulNf4(x, codes, absmax, { shape: [2, 2], blockSize: 4 }));
    // W = [[-1, 1], [0, 0.0796]] · 3 (codes 0,15 | 7,8).
    const y = evaluate(g, { x: NDArray.from([1, 2], [2, 5]), codes: NDArray.from([2], [0x0f, 0x78], 'u8'), absmax: NDArray.from([1], [3]) }).get('y')!;
    expect(y.data[0]).toBeCloseTo((2 * -1 + 5 * 1) * 3, 12);
    expect(y.data[1]).toBeCloseTo(5 * Math.fround(0.07958029955625534) * 3, 12);
  });
});

describe('dynamic 8-bit map and dequantizeDynamic8', () => {
  it('has 256 sorted distinct values from -0.99 to 1 with 0 inside', () => {
    const m = ops.DYNAMIC_MAP_8BIT;
    expect(m.length).toBe(256);
    for (let i = 1; i < 256; i++) expect(m[i]).toBeGreaterThan(m[i - 1]);
    expect(m[255]).toBe(1);
    expect(m.indexOf(0)).toBeGreaterThan(0);
    // Smallest magnitude: 1e-6 · (0.1 + 1) / 2.
    expect(Math.min(...Array.from(m).filter((v) => v > 0))).toBeCloseTo(0.55e-6, 12);
    expect(m[0]).toBeCloseTo(-(0.1 + 0.9 * (63 / 64) + 0.1 + 0.9) / 2, 6);
  });

  it('scales each block of 256 codes and adds the offset', () => {
    const g = new Graph();
    const codes = g.input('codes', [258], 'u8');
    const scale = g.input('scale', [2], 'f32');
    const offset = g.input('offset', [], 'f32');
    g.output('a', ops.dequantizeDynamic8(codes, scale, offset));
    const c = Array.from({ length: 258 }, (_, i) => (i * 7) % 256);
    const a = evaluate(g, { codes: NDArray.from([258], c, 'u8'), scale: NDArray.from([2], [2, 4]), offset: NDArray.scalar(0.5) }).get('a')!;
    expect(a.data[3]).toBe(ops.DYNAMIC_MAP_8BIT[21] * 2 + 0.5);
    expect(a.data[257]).toBe(ops.DYNAMIC_MAP_8BIT[(257 * 7) % 256] * 4 + 0.5);
  });
});
