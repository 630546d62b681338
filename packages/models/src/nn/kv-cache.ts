import { ops, type Tensor } from '@lowrank/core';

// Finite stand-in for -inf (as core's attention): keeps masked rows NaN-free on every backend.
export const MASKED = -1e30;

/** One layer's cached keys and values, [B, KV heads, L, D] with L the fixed cache length. */
export interface LayerKv {
  k: Tensor;
  v: Tensor;
  /**
   * Generation's step description. When present, attention reads the cache as
   * it was before the step plus the step's own keys and values (no in-graph
   * copy of the cache on the attention path), and the model's own writer is unused.
   */
  step?: CacheStep;
}

/** A layer's cache after a step (k, v), and the step's own keys and values [B, KV, S, D] (newK, newV) written into it. */
export interface LayerKvUpdate extends LayerKv {
  newK: Tensor;
  newV: Tensor;
}

/**
 * How a step writes into a static-length cache and what it may read. Built
 * once per traced step from the i32 positions of its tokens, shared by all layers:
 * - write [L, S]: one-hot, slot l takes token s when positions[s] = l;
 * - keep [L, 1]: 1 for slots this step leaves alone;
 * - mask [S, L]: additive, 0 where slot l ≤ positions[s] (causal, and unused slots hidden).
 * The fields are traced on first use, so a model may build a writer that a
 * generation step (LayerKv.step) never reads.
 */
export interface CacheWriter {
  readonly length: number;
  readonly write: Tensor;
  readonly keep: Tensor;
  readonly mask: Tensor;
}

export function cacheWriter(positions: Tensor, length: number): CacheWriter {
  const g = positions.graph;
  const s = positions.shape[0];
  const slots = () => ops.arange(g, 0, length, 1, 'i32');
  let write: Tensor | undefined;
  let mask: Tensor | undefined;
  let keep: Tensor | undefined;
  return {
    length,
    get write() {
      write ??= ops.cast(ops.equal(ops.reshape(slots(), [length, 1]), ops.reshape(positions, [1, s])), 'f32');
      return write;
    },
    get keep() {
      keep ??= ops.sub(1, ops.sum(this.write, [1], true));
      return keep;
    },
    get mask() {
      if (!mask) {
        const visible = ops.lessEqual(ops.reshape(slots(), [1, length]), ops.reshape(positions, [s, 1]));
        mask = ops.mul(ops.sub(1, ops.cast(visible, 'f32')), MASKED);
      }
      return mask;
    },
  };
}

/** The cache after writing this step's keys or values [B, KV, S, D] into their slots. */
export function writeCache(cache: Tensor, fresh: Tensor, w: CacheWriter): Tensor {
  return ops.add(ops.mul(cache, w.keep), ops.matmul(w.write, fresh));
}

/**
 * One generation step over a cache of length L for B rows that may be left-padded:
 * - slots [S] i32: the consecutive cache slots this step's tokens take (shared by all rows);
 * - starts [B] i32: each row's first real slot (slots before it hold padding);
 * - pastMask [B, 1, S, L]: additive, 0 for slots written before the step (l < slots[0]) and not padding;
 * - newMask [B, 1, S, S]: additive, 0 for the step's own earlier-or-same tokens that are not padding.
 */
export interface CacheStep {
  readonly length: number;
  readonly slots: Tensor;
  readonly starts: Tensor;
  readonly pastMask: Tensor;
  readonly newMask: Tensor;
}

const additive = (visible: Tensor): Tensor => ops.mul(ops.sub(1, ops.cast(visible, 'f32')), MASKED);

export function cacheStep(slots: Tensor, starts: Tensor, length: number): CacheStep {
  const g = slots.graph;
  const s = slots.shape[0];
  const b = starts.shape[0];
  const rowStart = ops.reshape(starts, [b, 1]);
  const cacheSlots = ops.reshape(ops.arange(g, 0, length, 1, 'i32'), [1, length]);
  const first = ops.reshape(ops.sliceAxis(slots, 0, 0, 1), [1, 1]);
  const past = ops.logicalAnd(ops.greaterEqual(cacheSlots, rowStart), ops.less(cacheSlots, first));
  const causal = ops.constant(g, Array.from({ length: s * s }, (_, i) => (i % s <= Math.floor(i / s) ? 1 : 0)), [1, 1, s, s], 'bool');
  const real = ops.reshape(ops.greaterEqual(ops.reshape(slots, [1, s]), rowStart), [b, 1, 1, s]);
  return {
    length,
    slots,
    starts,
    pastMask: additive(ops.reshape(past, [b, 1, 1, length])),
    newMask: additive(ops.logicalAnd(causal, real)),
  };
}

/** The cache [B, KV, L, D] with the step's keys or values [B, KV, S, D] written at its slots (a one-hot product). */
export function writeSlots(cache: Tensor, fresh: Tensor, step: CacheStep): Tensor {
  const L = step.length;
  const s = step.slots.shape[0];
  const write = ops.cast(ops.equal(ops.reshape(ops.arange(cache.graph, 0, L, 1, 'i32'), [L, 1]), ops.reshape(step.slots, [1, s])), 'f32');
  const keep = ops.sub(1, ops.sum(write, [1], true));
  return ops.add(ops.mul(cache, keep), ops.matmul(write, fresh));
}
