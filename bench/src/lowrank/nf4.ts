import { ops } from '@lowrank/core';

/**
 * NF4 block quantization of a frozen weight W [N, K] in bitsandbytes' layout
 * (block 64, nearest codebook value of w / absmax, even element in the high
 * nibble), with optional double quantization of the absmax constants
 * (absmax − mean coded with the signed 8-bit dynamic map in blocks of 256).
 */
export interface Nf4Weight {
  readonly codes: Uint8Array;
  /** Set without double quantization. */
  readonly absmax?: Float32Array;
  /** Set with double quantization: absmax[i] = map[absmaxCodes[i]]·absmaxScale[i/256] + absmaxOffset. */
  readonly absmaxCodes?: Uint8Array;
  readonly absmaxScale?: Float32Array;
  readonly absmaxOffset?: number;
  /** Bytes of every buffer kept for this weight. */
  readonly storedBytes: number;
}

export const NF4_BLOCK = 64;
export const ABSMAX_BLOCK = 256;

function nearest(sorted: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= v) lo = mid;
    else hi = mid;
  }
  return v - sorted[lo] <= sorted[hi] - v ? lo : hi;
}

export function quantizeNf4(w: Float32Array, doubleQuant: boolean): Nf4Weight {
  const table = ops.NF4_CODEBOOK;
  const blocks = w.length / NF4_BLOCK;
  const absmax = new Float32Array(blocks);
  const codes = new Uint8Array(w.length / 2);
  for (let b = 0; b < blocks; b++) {
    let m = 0;
    for (let i = b * NF4_BLOCK; i < (b + 1) * NF4_BLOCK; i++) m = Math.max(m, Math.abs(w[i]));
    absmax[b] = m;
    for (let i = b * NF4_BLOCK; i < (b + 1) * NF4_BLOCK; i++) {
      const code = nearest(table, m === 0 ? 0 : w[i] / m);
      codes[i >> 1] |= i % 2 === 0 ? code << 4 : code;
    }
  }
  if (!doubleQuant) return { codes, absmax, storedBytes: codes.byteLength + absmax.byteLength };

  const map = ops.DYNAMIC_MAP_8BIT;
  let mean = 0;
  for (const a of absmax) mean += a;
  mean /= blocks;
  const groups = Math.ceil(blocks / ABSMAX_BLOCK);
  const scale = new Float32Array(groups);
  const absmaxCodes = new Uint8Array(blocks);
  for (let g = 0; g < groups; g++) {
    const end = Math.min(blocks, (g + 1) * ABSMAX_BLOCK);
    let s = 0;
    for (let i = g * ABSMAX_BLOCK; i < end; i++) s = Math.max(s, Math.abs(absmax[i] - mean));
    scale[g] = s;
    for (let i = g * ABSMAX_BLOCK; i < end; i++) absmaxCodes[i] = nearest(map, s === 0 ? 0 : (absmax[i] - mean) / s);
  }
  return {
    codes,
    absmaxCodes,
    absmaxScale: scale,
    absmaxOffset: mean,
    storedBytes: codes.byteLength + absmaxCodes.byteLength + scale.byteLength + 4,
  };
}
