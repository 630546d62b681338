// Shared pieces of the Variants II acceptance tests: the synthetic shift task on
// llama-tiny, a backend wrapper that counts compilations, and logits of a weight set.
import type { Backend, BatchStream, Graph, HostTensor, JsonValue, TrainBatch } from '@lowrank/core';
import { traceLanguageModel } from '../forward.js';
import type { LanguageModel } from '../architectures/causal-lm.js';

export const SEQ = 12;
export const BATCH = 16;
const SHIFT = 3;
const A = 97;

/** Pairs (c, c + 3 mod 26) of random letters; only the second letter of a pair is labelled. */
export function randomSequences(count: number, seed: number): number[][] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () =>
    Array.from({ length: SEQ / 2 }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const c = (s >>> 8) % 26;
      return [A + c, A + ((c + SHIFT) % 26)];
    }).flat(),
  );
}

export function batchOf(seqs: readonly number[][]): TrainBatch {
  const ids = Int32Array.from(seqs.flat());
  const labels = ids.map((v, i) => (i % 2 === 1 ? v : -100));
  return {
    feeds: { input_ids: { shape: [seqs.length, SEQ], dtype: 'i32', data: ids }, labels: { shape: [seqs.length, SEQ], dtype: 'i32', data: labels } },
    tokens: (seqs.length * SEQ) / 2,
  };
}

/** Endless training batches; `pool` > 0 cycles over that many batches only (a sampled fraction of the data). */
export function taskStream(seed: number, pool = 0): BatchStream {
  let n = 0;
  return {
    next: () => batchOf(randomSequences(BATCH, seed * 7919 + (pool > 0 ? n++ % pool : n++) * 104729)),
    position: (): JsonValue => n,
    seek: (p: JsonValue) => {
      n = Number(p);
    },
  };
}

const HELD = randomSequences(4 * BATCH, 424242);
export const HELD_OUT: readonly TrainBatch[] = [0, 1, 2, 3].map((i) => batchOf(HELD.slice(i * BATCH, (i + 1) * BATCH)));

/** A backend whose compile calls are counted (to assert that rank changes never recompile). */
export function countingBackend(inner: Backend): Backend & { compiles: number } {
  const counted = Object.create(inner) as Backend & { compiles: number };
  counted.compiles = 0;
  counted.compile = (graph: Graph, sig) => {
    counted.compiles++;
    return inner.compile(graph, sig);
  };
  return counted;
}

/** Held-out logits of the model with the given weights (one batch). */
export async function heldOutLogits(backend: Backend, model: LanguageModel, weights: ReadonlyMap<string, HostTensor>, feeds: Record<string, HostTensor> = {}): Promise<Float32Array> {
  const { graph } = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ });
  const exe = await backend.compile(graph, { outputs: ['logits'] });
  const params: Record<string, HostTensor> = {};
  for (const name of graph.params.keys()) {
    const v = weights.get(name);
    if (!v) throw new Error(`test setup: no weight '${name}'`);
    params[name] = v;
  }
  await exe.setParameters(params);
  const out = await exe.run({ input_ids: HELD_OUT[0].feeds.input_ids, ...feeds });
  exe.dispose();
  return Float32Array.from(out.logits.data as ArrayLike<number>);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
