// Shared by the trainer tests: a tiny LoRA language model built straight from core ops.
import type { HostTensor } from '../backend/backend.js';
import { Graph } from '../graph/graph.js';
import * as ops from '../ops/index.js';
import { numel } from '../shape.js';
import type { ForwardGraph } from './trainer.js';
import type { BatchStream, JsonValue, TrainBatch } from './types.js';

export const V = 7;
export const D = 5;
export const R = 2;

export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function randomTensor(shape: number[], rand: () => number): HostTensor {
  return { shape, dtype: 'f32', data: Float64Array.from({ length: numel(shape) }, rand) };
}

/** Embedding, one frozen linear with a LoRA adapter, tied output head, cross-entropy. */
export function buildLoraLm(batch: number, seq: number, dropout = 0, scaleInput = false): (mode: { training: boolean }) => ForwardGraph {
  return ({ training }) => {
    const g = new Graph();
    const ids = g.input('input_ids', [batch, seq], 'i32');
    const labels = g.input('labels', [batch, seq], 'i32');
    const emb = g.param('embed.weight', [V, D]);
    const w = g.param('proj.weight', [D, D]);
    const a = g.param('proj.lora_A.weight', [R, D], { trainable: true });
    const b = g.param('proj.lora_B.weight', [D, R], { trainable: true });
    const h = ops.gather(emb, ids);
    const x = training && dropout > 0 ? g.scope('proj', () => ops.dropout(h, dropout)) : h;
    // A runtime scale (fed by a hook, as DyLoRA feeds alpha/b) or the constant 2.
    const scale = scaleInput ? g.input('lora.scale', [], 'f32') : 2;
    const lora = ops.mul(ops.matmul(ops.matmul(x, a, { transB: true }), b, { transB: true }), scale);
    const y = ops.tanh(ops.add(ops.add(ops.matmul(h, w, { transB: true }), lora), h));
    const logits = ops.matmul(y, emb, { transB: true });
    return { graph: g, loss: ops.crossEntropy(logits, labels) };
  };
}

export function initialValues(seed = 1): Record<string, HostTensor> {
  const r = lcg(seed);
  return {
    'embed.weight': randomTensor([V, D], r),
    'proj.weight': randomTensor([D, D], r),
    'proj.lora_A.weight': randomTensor([R, D], r),
    'proj.lora_B.weight': randomTensor([D, R], r),
  };
}

/** `n` rows of `seq` tokens with next-token labels; some labels ignored so token counts differ. */
export function makeRows(n: number, seq: number, seed = 3): { ids: number[]; labels: number[] }[] {
  const r = lcg(seed);
  return Array.from({ length: n }, (_, i) => {
    const ids = Array.from({ length: seq }, () => Math.floor((r() + 0.5) * V));
    const labels = ids.map((_, t) => (t + 1 < seq ? ids[t + 1] : -100));
    if (i % 3 === 1) labels[0] = -100;
    return { ids, labels };
  });
}

export function batchOf(rows: { ids: number[]; labels: number[] }[]): TrainBatch {
  const seq = rows[0].ids.length;
  const labels = rows.flatMap((x) => x.labels);
  return {
    feeds: {
      input_ids: { shape: [rows.length, seq], dtype: 'i32', data: Int32Array.from(rows.flatMap((x) => x.ids)) },
      labels: { shape: [rows.length, seq], dtype: 'i32', data: Int32Array.from(labels) },
    },
    tokens: labels.filter((l) => l !== -100).length,
  };
}

/** Cycles through rows in order, `batch` at a time; its position is the next row index. */
export class ArrayStream implements BatchStream {
  private at = 0;
  constructor(
    private readonly rows: { ids: number[]; labels: number[] }[],
    private readonly batch: number,
  ) {}
  next(): TrainBatch {
    const out = Array.from({ length: this.batch }, (_, i) => this.rows[(this.at + i) % this.rows.length]);
    this.at = (this.at + this.batch) % this.rows.length;
    return batchOf(out);
  }
  position(): JsonValue {
    return this.at;
  }
  seek(p: JsonValue): void {
    this.at = Number(p);
  }
}
