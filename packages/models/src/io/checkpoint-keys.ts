import type { Checkpoint } from '../safetensors/index.js';

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
