import { Graph, ops, type Tensor } from '@lowrank/core';
import type { LanguageModel } from '../architectures/index.js';
import { cacheStep, type LayerKv } from '../nn/kv-cache.js';

/**
 * Where the KV cache lives between steps:
 * - 'host': arrays the generator owns, fed by reference each step (ONNX Runtime
 *   wraps a Float32Array feed without copying it); the step returns only its own
 *   keys and values, which the generator writes into their slots;
 * - 'backend': state parameters of the executables (on the device for WebGPU),
 *   replaced after each step through the signature's `updates`.
 */
export type CacheResidency = 'host' | 'backend';

export const pastName = (layer: number, kv: 'k' | 'v'): string => `past.${layer}.${kv}`;
export const newName = (layer: number, kv: 'k' | 'v'): string => `new.${layer}.${kv}`;
export const cacheParamName = (layer: number, kv: 'k' | 'v'): string => `cache.${layer}.${kv}`;
export const cacheNextName = (layer: number, kv: 'k' | 'v'): string => `cache.${layer}.${kv}.next`;

export interface StepShape {
  /** Rows (prompts) per run. */
  batch: number;
  /** Tokens per row per run: the prefill chunk, or 1 to decode. */
  tokens: number;
  /** Cache slots L (the length bucket). */
  length: number;
  residency: CacheResidency;
}

export interface StepGraph {
  graph: Graph;
  /** Outputs a run returns to the host. */
  outputs: string[];
  /** State parameter -> output that replaces it ('backend' residency). */
  updates: Record<string, string>;
}

/**
 * One generation step: S tokens per row at consecutive cache slots, attending
 * over the L-slot cache as it was plus their own keys and values. Inputs:
 * input_ids [B, S], positions [S] (one row) or [B, S], slots [S], starts [B]
 * (each row's first real slot; earlier slots are left padding) and, when S > 1,
 * last [1] (the token whose logits to return). Output `logits` [B, V] of that token only.
 */
export function stepGraph(model: LanguageModel, s: StepShape): StepGraph {
  const { layers, kvHeads, headDim } = model.cacheLayout();
  const { batch: B, tokens: S, length: L } = s;
  const g = new Graph();
  const inputIds = g.input('input_ids', [B, S], 'i32');
  const positions = g.input('positions', B === 1 ? [S] : [B, S], 'i32');
  const slots = g.input('slots', [S], 'i32');
  const starts = g.input('starts', [B], 'i32');
  // Prefill returns one token's logits (the last real one of the chunk): index fed as `last`.
  const last = S > 1 ? g.input('last', [1], 'i32') : undefined;
  const step = cacheStep(slots, starts, L);
  const shape = [B, kvHeads, L, headDim];
  const cache: LayerKv[] = [];
  for (let i = 0; i < layers; i++) {
    const [k, v] =
      s.residency === 'host'
        ? [g.input(pastName(i, 'k'), shape), g.input(pastName(i, 'v'), shape)]
        : [g.param(cacheParamName(i, 'k'), shape, { trainable: false }), g.param(cacheParamName(i, 'v'), shape, { trainable: false })];
    cache.push({ k, v, step });
  }
  const { out, logits } = tracedFrozen(model, () => {
    const fwd = model.forward({ inputIds, positions, cache });
    // With the model's head, prefill runs it on the one position it returns (the full logits go dead).
    const one: Tensor = !last ? fwd.logits : fwd.head ? fwd.head.logits(ops.gather(fwd.hidden, last, 1)) : ops.gather(fwd.logits, last, 1);
    return { out: fwd, logits: one };
  });
  g.output('logits', ops.reshape(logits, [B, logits.shape[2]]));
  const outputs = ['logits'];
  const updates: Record<string, string> = {};
  out.cache!.forEach((kv, i) => {
    for (const [which, fresh, next] of [['k', kv.newK, kv.k], ['v', kv.newV, kv.v]] as const) {
      if (s.residency === 'host') {
        g.output(newName(i, which), fresh);
        outputs.push(newName(i, which));
      } else {
        g.output(cacheNextName(i, which), next);
        updates[cacheParamName(i, which)] = cacheNextName(i, which);
      }
    }
  });
  return { graph: g, outputs, updates };
}

/**
 * Traces with every parameter frozen, then restores the model's flags.
 * Generation trains nothing: frozen parameters (adapters included) become
 * constants the backend can prepare once (ORT initializers, prepacked for its
 * GEMMs) instead of inputs fed on every step.
 */
function tracedFrozen<T>(model: LanguageModel, trace: () => T): T {
  const trainable = new Set([...model.namedParams()].filter(([, spec]) => spec.trainable).map(([name]) => name));
  model.setTrainable(false);
  try {
    return trace();
  } finally {
    if (trainable.size > 0) model.setTrainable(true, (name) => trainable.has(name));
  }
}
