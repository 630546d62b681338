import { bf16BitsToNumber, f16BitsToNumber, numberToBf16Bits, numberToF16Bits, ops, rng } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { QuantizationError } from '../errors.js';
import { encode4bit, quantize4bit, quantize4bitStored, quantizeBlockwise8, type Codebook, type Quantized4bit } from './quantize.js';
import { referenceBlockwise8, referenceEncode4bit, referenceNested, referenceQuantize4bit } from './quantize-reference.js';

// The fast kernel against the elementwise definition (quantize-reference.ts), bit for bit.

/** Seeded values with the cases a quantizer gets wrong: zero and -0 blocks, NaN, ±Inf, tiny and huge blocks. */
function awkwardValues(n: number, seed: number, blockSize: number): Float64Array {
  const stream = rng.streamWord(seed, 3, 5);
  const v = Float64Array.from({ length: n }, (_, i) => {
    const u = rng.uniformAt(stream, i);
    const w = rng.uniformAt(stream, i + n);
    // Roughly normal (sum of uniforms), scaled per block over 12 decades.
    return (u + w - 1) * 10 ** (((Math.floor(i / blockSize) * 7) % 13) - 8);
  });
  const block = (b: number) => v.subarray(b * blockSize, (b + 1) * blockSize);
  const blocks = n / blockSize;
  block(1 % blocks).fill(0);
  block(2 % blocks).fill(-0);
  block(3 % blocks).forEach((_, k, a) => (a[k] = k % 2 ? -0 : 0));
  block(4 % blocks)[5 % blockSize] = NaN;
  block(5 % blocks)[0] = Infinity;
  block(6 % blocks)[blockSize - 1] = -Infinity;
  block(7 % blocks)[1 % blockSize] = Infinity;
  block(7 % blocks)[2 % blockSize] = NaN;
  block(8 % blocks)[3 % blockSize] = 1e-40; // an f32 subnormal
  block(9 % blocks).fill(-0);
  block(9 % blocks)[blockSize - 1] = -2.5; // absmax from a negative element, the rest -0
  return v;
}

/** The next f32 after v towards +Inf (dir 1) or -Inf (dir -1); v finite and nonzero. */
function f32Step(v: number, dir: 1 | -1): number {
  const f = Float32Array.of(v);
  const bits = new Int32Array(f.buffer);
  bits[0] += v > 0 ? dir : -dir;
  return f[0];
}

function expectSame(q: Quantized4bit, ref: { codes: Uint8Array; absmax: Float32Array }): void {
  expect(q.codes.length).toBe(ref.codes.length);
  // Index of the first differing byte: -1 when identical (a readable failure, unlike a 10k-element diff).
  expect(q.codes.findIndex((c, i) => c !== ref.codes[i])).toBe(-1);
  expect(q.absmax!.length).toBe(ref.absmax.length);
  expect(q.absmax!.findIndex((a, i) => !Object.is(a, ref.absmax[i]))).toBe(-1);
}

const decoders = { bf16: bf16BitsToNumber, f16: f16BitsToNumber };
const encoders = { bf16: numberToBf16Bits, f16: numberToF16Bits };

describe('fast 4-bit quantizer: bit-identical to the elementwise definition', () => {
  // 19200 values: two full 8192-value chunks and a partial one.
  const [OUT, IN] = [96, 200];

  for (const codebook of ['nf4', 'fp4'] as const) {
    for (const blockSize of [64, 32, 200, 75]) {
      it(`${codebook}, block ${blockSize}: f32, bf16 and f16 sources, plain and transposed`, () => {
        const values = awkwardValues(OUT * IN, 11 + blockSize, blockSize);
        const f32 = Float32Array.from(values);
        expectSame(quantize4bit(values, [OUT, IN], { codebook, blockSize }), referenceQuantize4bit(values, blockSize, codebook));
        expectSame(quantize4bitStored({ dtype: 'f32', data: f32 }, [OUT, IN], { codebook, blockSize }), referenceQuantize4bit(f32, blockSize, codebook));
        for (const dtype of ['bf16', 'f16'] as const) {
          const bits = Uint16Array.from(values, (x) => encoders[dtype](x));
          const decoded = Float64Array.from(bits, (b) => decoders[dtype](b));
          expectSame(quantize4bitStored({ dtype, data: bits }, [OUT, IN], { codebook, blockSize }), referenceQuantize4bit(decoded, blockSize, codebook));
          // Stored [IN, OUT] (fan-in-fan-out): the quantizer reads the transpose.
          const storedT = new Uint16Array(bits.length);
          for (let o = 0; o < OUT; o++) for (let i = 0; i < IN; i++) storedT[i * OUT + o] = bits[o * IN + i];
          expectSame(quantize4bitStored({ dtype, data: storedT }, [OUT, IN], { codebook, blockSize }, true), referenceQuantize4bit(decoded, blockSize, codebook));
        }
      });
    }
  }

  it('the awkward cases are really there: zero blocks take the code of 0, NaN and Inf blocks as the definition says', () => {
    const values = awkwardValues(OUT * IN, 75, 64);
    const q = quantize4bit(values, [OUT, IN]);
    const nibble = (i: number) => (i % 2 === 0 ? q.codes[i >> 1] >> 4 : q.codes[i >> 1] & 15);
    for (const b of [1, 2, 3]) {
      expect(q.absmax![b]).toBe(0);
      for (let i = b * 64; i < (b + 1) * 64; i++) expect(nibble(i)).toBe(7);
    }
    expect(q.absmax![4]).toBeNaN();
    expect(nibble(4 * 64)).toBe(0); // every element of a NaN block divides to NaN: the lowest code
    expect(q.absmax![5]).toBe(Infinity);
    expect(nibble(5 * 64)).toBe(0); // Inf / Inf
    expect(nibble(5 * 64 + 1)).toBe(7); // finite / Inf = ±0
    expect(q.absmax![9]).toBe(2.5);
    expect(nibble(9 * 64 + 63)).toBe(0);
  });

  it('on a midpoint a value takes the lower code, one f32 step either side the nearer code', () => {
    for (const codebook of ['nf4', 'fp4'] as const) {
      // FP4 midpoints are between magnitudes (codes 0..7); NF4 between all 16 codes.
      const codebookValues = codebook === 'nf4' ? ops.NF4_CODEBOOK : ops.FP4_CODEBOOK.slice(0, 8);
      const sorted = codebookValues.map((v) => Math.fround(v)).sort((a, b) => a - b);
      const codeOf = (v: number) => codebookValues.findIndex((c) => Math.fround(c) === v);
      const w: number[] = [];
      const expected: number[] = [];
      let exactTies = 0;
      for (let c = 0; c + 1 < sorted.length; c++) {
        const mid = (sorted[c] + sorted[c + 1]) / 2;
        // A midpoint an f32 can hold gives an exact tie under a power-of-two absmax; the others are passed closely by f32 steps.
        for (const s of [1, 2 ** -7, 0.75]) {
          const v = Math.fround(mid * s);
          const block = [s, f32Step(v, -1), v, f32Step(v, 1)];
          exactTies += Number(v / s === mid);
          w.push(...block, ...new Array<number>(60).fill(0));
          expected.push(...block.slice(1).map((x) => codeOf(x / s > mid ? sorted[c + 1] : sorted[c])));
        }
      }
      expect(exactTies).toBeGreaterThanOrEqual(2);
      const q = quantize4bit(w, [w.length / 64, 64], { codebook });
      expectSame(q, referenceQuantize4bit(w, 64, codebook));
      const nibble = (i: number) => (i % 2 === 0 ? q.codes[i >> 1] >> 4 : q.codes[i >> 1] & 15);
      expected.forEach((code, k) => expect(nibble(Math.floor(k / 3) * 64 + 1 + (k % 3))).toBe(code));
    }
  });

  it('encode4bit matches a binary search on a dense sweep, on and around every midpoint, and at NaN, ±Inf, ±0', () => {
    const xs = [NaN, Infinity, -Infinity, 0, -0, 2, -2, 1e300, -1e300];
    for (let i = 0; i <= 200000; i++) xs.push(-1.05 + (2.1 * i) / 200000);
    for (const codebook of ['nf4', 'fp4'] as Codebook[]) {
      const values = (codebook === 'nf4' ? ops.NF4_CODEBOOK : ops.FP4_CODEBOOK).map((v) => Math.fround(v)).sort((a, b) => a - b);
      for (let c = 0; c + 1 < values.length; c++) {
        const mid = (values[c] + values[c + 1]) / 2;
        for (const x of [mid, -mid, mid * (1 + 2 ** -52), mid * (1 - 2 ** -52), mid + 1e-12, mid - 1e-12]) xs.push(x);
      }
      const wrong = xs.filter((x) => encode4bit(x, codebook) !== referenceEncode4bit(x, codebook));
      expect(wrong).toEqual([]);
    }
  });

  it('quantizeBlockwise8 and the double quantization match the definition (codes, scales, offset)', () => {
    // Values crowding the dynamic map's dense region near 0, its midpoints, and a zero block.
    const map = Array.from(ops.DYNAMIC_MAP_8BIT, (v) => Math.fround(v));
    const values: number[] = [];
    for (let i = 0; i + 1 < map.length; i++) values.push((map[i] + map[i + 1]) / 2, map[i], Math.fround(map[i] * 0.999));
    while (values.length % 256) values.push(1);
    const zeroBlock = values.length / 256;
    values.push(...new Array<number>(256).fill(0), NaN, 0.5);
    const stream = rng.streamWord(4, 1, 1);
    for (let i = 0; i < 3000; i++) values.push((rng.uniformAt(stream, i) - 0.5) * 10 ** -((i % 7) + 1));
    const got = quantizeBlockwise8(values, 256);
    const ref = referenceBlockwise8(values, 256);
    expect(got.codes.findIndex((c, i) => c !== ref.codes[i])).toBe(-1);
    expect(got.scale.findIndex((s, i) => !Object.is(s, ref.scale[i]))).toBe(-1);
    expect(got.scale[Math.floor(values.findIndex(Number.isNaN) / 256)]).toBeNaN();
    expect(got.scale[zeroBlock]).toBe(0);
    expect(got.codes[zeroBlock * 256]).toBe(ops.DYNAMIC_MAP_8BIT.indexOf(0));

    const w = awkwardValues(96 * 200, 3, 64).map((x) => (Number.isFinite(x) ? x : 0.25));
    // 300 blocks: one whole 256-block of absmax and a partial one.
    const dq = quantize4bit(w, [96, 200], { doubleQuant: true });
    const plain = referenceQuantize4bit(w, 64, 'nf4');
    const nested = referenceNested(plain.absmax, 256);
    expect(dq.codes.findIndex((c, i) => c !== plain.codes[i])).toBe(-1);
    expect(Object.is(dq.nested!.offset, nested.offset)).toBe(true);
    expect(dq.nested!.codes.findIndex((c, i) => c !== nested.codes[i])).toBe(-1);
    expect(dq.nested!.scale.findIndex((s, i) => !Object.is(s, nested.scale[i]))).toBe(-1);
    expect(dq.nested!.codes.length).toBe(300);
  });

  it('refuses sizes that are not whole blocks and dtypes it cannot read, saying what to change', () => {
    expect(() => quantize4bit(new Float32Array(3 * 30), [3, 30])).toThrow(QuantizationError);
    expect(() => quantize4bit(new Float32Array(3 * 30), [3, 30])).toThrow(/not a whole number of 64-value blocks; pick a block size/);
    expect(() => quantize4bitStored({ dtype: 'i32', data: new Int32Array(128) }, [2, 64])).toThrow(/cannot quantize a i32 weight; pass float weights/);
    expect(() => quantize4bitStored({ dtype: 'bf16', data: new Uint16Array(100) }, [2, 64])).toThrow(/has 100 values, a \[2, 64\] weight needs 128/);
  });
});
