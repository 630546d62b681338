import type { HostTensor } from '@lowrank/core';
import { newName, pastName } from './step-graph.js';

/**
 * The KV cache held by the generator for 'host' residency: per layer k and v
 * [B, KV, L, D] f32. Fed by reference each step (no copy on ONNX Runtime's CPU
 * provider); after a step only that step's own keys and values [B, KV, S, D]
 * are written into their slots.
 */
export class HostCache {
  private readonly arrays = new Map<string, Float32Array>();

  constructor(
    readonly layers: number,
    readonly batch: number,
    readonly kvHeads: number,
    readonly headDim: number,
    readonly length: number,
  ) {
    const n = batch * kvHeads * length * headDim;
    for (let i = 0; i < layers; i++) for (const kv of ['k', 'v'] as const) this.arrays.set(pastName(i, kv), new Float32Array(n));
  }

  private get shape(): number[] {
    return [this.batch, this.kvHeads, this.length, this.headDim];
  }

  feeds(): Record<string, HostTensor> {
    const out: Record<string, HostTensor> = {};
    for (const [name, data] of this.arrays) out[name] = { shape: this.shape, dtype: 'f32', data };
    return out;
  }

  /** Writes a step's keys and values (outputs `new.N.k/v`, [B, KV, S, D]) at slots first..first+S-1. */
  absorb(out: Readonly<Record<string, HostTensor>>, first: number): void {
    const { batch, kvHeads, headDim, length } = this;
    for (let i = 0; i < this.layers; i++) {
      for (const kv of ['k', 'v'] as const) {
        const dst = this.arrays.get(pastName(i, kv))!;
        const fresh = out[newName(i, kv)];
        const src = fresh.data as Float32Array;
        const S = fresh.shape[2];
        // Rows of one head are consecutive in both layouts: one copy of S·D values per (row, head).
        for (let bh = 0; bh < batch * kvHeads; bh++) {
          dst.set(src.subarray(bh * S * headDim, (bh + 1) * S * headDim), (bh * length + first) * headDim);
        }
      }
    }
  }

  /** A cache of `length` slots holding this one's contents (moving to a longer bucket). */
  grown(length: number): HostCache {
    const next = new HostCache(this.layers, this.batch, this.kvHeads, this.headDim, length);
    for (const [name, src] of this.arrays) copySlots(src, next.arrays.get(name)!, this.batch * this.kvHeads, this.length, length, this.headDim);
    return next;
  }
}

/** Copies [rows, from, D] into the first `from` slots of [rows, to, D]. */
export function copySlots(src: Float32Array, dst: Float32Array, rows: number, from: number, to: number, headDim: number): void {
  for (let r = 0; r < rows; r++) dst.set(src.subarray(r * from * headDim, (r + 1) * from * headDim), r * to * headDim);
}
