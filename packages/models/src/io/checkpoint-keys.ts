import type { Module } from '@lowrank/core';
import type { Checkpoint } from '../safetensors/index.js';
import { checkWeights } from './weights-check.js';

/** Buffers transformers keeps in some checkpoints that are not parameters (masks, rope frequencies). */
export const KNOWN_BUFFERS = [/\.attn\.bias$/, /\.attn\.masked_bias$/, /rotary_emb\.inv_freq$/];

/**
 * The checkpoint key holding parameter `name`. GPT-2 checkpoints from the hub
 * were saved from GPT2Model and lack the `transformer.` prefix.
 */
export function resolveKey(ckpt: Checkpoint, name: string): string | undefined {
  if (ckpt.has(name)) return name;
  if (name.startsWith('transformer.') && ckpt.has(name.slice('transformer.'.length))) return name.slice('transformer.'.length);
  return undefined;
}

/** Which checkpoint tensor holds each parameter, and the tensors no parameter uses. */
export interface CheckpointMatch {
  /** Parameter name -> checkpoint key. */
  readonly keys: ReadonlyMap<string, string>;
  /** Checkpoint tensors the model does not use (other than known buffers and a tied lm_head). */
  readonly unused: string[];
}

/**
 * Matches every parameter of `model` to its checkpoint tensor from the
 * headers alone, and throws WeightMismatchError (naming `dir`) if one is
 * missing or has another shape.
 */
export function matchCheckpoint(dir: string, model: Module, ckpt: Checkpoint): CheckpointMatch {
  const keys = new Map<string, string>();
  for (const name of model.namedParams().keys()) {
    const k = resolveKey(ckpt, name);
    if (k) keys.set(name, k);
  }
  checkWeights(dir, model, (name) => {
    const k = keys.get(name);
    return k ? ckpt.entry(k).shape : undefined;
  });
  const used = new Set(keys.values());
  const unused = ckpt.names().filter((n) => !used.has(n) && !KNOWN_BUFFERS.some((re) => re.test(n)) && n !== 'lm_head.weight');
  return { keys, unused };
}
