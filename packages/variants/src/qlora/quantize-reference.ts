import { ops } from '@lowrank/core';

/**
 * The elementwise definition of 4-bit block quantization, written for
 * clarity, not speed: a binary search over the midpoints for every element.
 * The fast kernel (quantize-blocks.ts) must match it bit for bit; tests and
 * the microbenchmark compare against it. Not used by the library itself.
 */
interface SearchTable {
  readonly values: Float64Array;
  readonly indices: Int32Array;
  readonly mids: Float64Array;
}

function searchTable(values: readonly number[], indices: readonly number[]): SearchTable {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const sorted = Float64Array.from(order, (i) => Math.fround(values[i]));
  return {
    values: sorted,
    indices: Int32Array.from(order, (i) => indices[i]),
    mids: Float64Array.from({ length: sorted.length - 1 }, (_, i) => (sorted[i] + sorted[i + 1]) / 2),
  };
}

/** Index of the entry nearest to x; exactly on a midpoint takes the lower one (bitsandbytes); NaN takes the lowest. */
function searchNearest(t: SearchTable, x: number): number {
  let lo = 0;
  let hi = t.mids.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (x > t.mids[m]) lo = m + 1;
    else hi = m;
  }
  return t.indices[lo];
}

const NF4 = searchTable(ops.NF4_CODEBOOK, ops.NF4_CODEBOOK.map((_, i) => i));
const FP4_MAGNITUDES = searchTable(ops.FP4_CODEBOOK.slice(0, 8), [0, 1, 2, 3, 4, 5, 6, 7]);

export function referenceEncode4bit(normalized: number, codebook: 'nf4' | 'fp4'): number {
  if (codebook === 'nf4') return searchNearest(NF4, normalized);
  const magnitude = searchNearest(FP4_MAGNITUDES, Math.abs(normalized));
  return normalized < 0 ? magnitude | 8 : magnitude;
}

/** Codes (two per byte, even element high) and f32 absmax of w, element by element. */
export function referenceQuantize4bit(w: ArrayLike<number>, blockSize: number, codebook: 'nf4' | 'fp4'): { codes: Uint8Array; absmax: Float32Array } {
  const n = w.length;
  const absmax = new Float32Array(Math.ceil(n / blockSize));
  for (let b = 0; b < absmax.length; b++) {
    let m = 0;
    for (let i = b * blockSize; i < Math.min(n, (b + 1) * blockSize); i++) m = Math.max(m, Math.abs(w[i]));
    absmax[b] = m;
  }
  const codes = new Uint8Array(n / 2);
  for (let i = 0; i < n; i++) {
    const s = absmax[Math.floor(i / blockSize)];
    const code = s === 0 ? referenceEncode4bit(0, codebook) : referenceEncode4bit(Math.fround(w[i]) / s, codebook);
    codes[i >> 1] |= i % 2 === 0 ? code << 4 : code;
  }
  return { codes, absmax };
}

const DYNAMIC = searchTable(Array.from(ops.DYNAMIC_MAP_8BIT), Array.from({ length: 256 }, (_, i) => i));

/** bitsandbytes' blockwise 8-bit quantization: absmax per block, each value's nearest code of the dynamic map. */
export function referenceBlockwise8(values: ArrayLike<number>, blockSize: number): { codes: Uint8Array; scale: Float32Array } {
  const scale = new Float32Array(Math.ceil(values.length / blockSize));
  for (let b = 0; b < scale.length; b++) {
    let m = 0;
    for (let i = b * blockSize; i < Math.min(values.length, (b + 1) * blockSize); i++) m = Math.max(m, Math.abs(values[i]));
    scale[b] = m;
  }
  const codes = Uint8Array.from({ length: values.length }, (_, i) => {
    const s = scale[Math.floor(i / blockSize)];
    return s === 0 ? searchNearest(DYNAMIC, 0) : searchNearest(DYNAMIC, values[i] / s);
  });
  return { codes, scale };
}

/** Double quantization of absmax as QLoRA defines it: minus the f32 mean, blockwise 8-bit with the dynamic map. */
export function referenceNested(absmax: Float32Array, blockSize: number): { codes: Uint8Array; scale: Float32Array; offset: number } {
  let mean = 0;
  for (const a of absmax) mean += a;
  const offset = Math.fround(mean / absmax.length);
  return { ...referenceBlockwise8(Array.from(absmax, (a) => Math.fround(a - offset)), blockSize), offset };
}
