import { resolveParameterValue, type HostTensor, type ParameterValue } from '@lowrank/core';
import { quantizeModelStreaming } from '@lowrank/variants';
import { adaptModel, type AdaptOptions } from './adapters.js';
import { openBaseModel, type OpenedBase } from './open-base.js';

/**
 * Every parameter's value for inference: the base weights as opened (lazy,
 * unread), quantized when `opts.quantize` asks, with the adapter directory
 * applied when given (its dropout off).
 */
export async function valuesWithAdapter(base: OpenedBase, adapter: string | undefined, opts: AdaptOptions = {}): Promise<Record<string, ParameterValue>> {
  if (adapter) {
    // r/alpha/targets are placeholders: the adapter directory's config decides them.
    const a = await adaptModel(base, { variant: 'lora', r: 1, alpha: 1, dropout: 0, seed: 0 }, adapter, opts);
    a.setTraining(false);
    return a.values;
  }
  if (!opts.quantize) return Object.fromEntries(base.weights);
  const q = await quantizeModelStreaming(base.model, base.weights, { codebook: opts.quantize, doubleQuant: true, ...(opts.onQuantizedLayer ? { onLayer: opts.onQuantizedLayer } : {}) });
  return Object.fromEntries(q.weights);
}

/**
 * The base model at f32 with the adapter directory applied when given, every
 * value read into memory: for merge and export, which write every weight.
 */
export async function loadModelWithAdapter(model: string, adapter: string | undefined): Promise<{ base: OpenedBase; values: Record<string, HostTensor>; adapted: boolean }> {
  const base = await openBaseModel(model, { baseDtype: 'f32' });
  const lazy = await valuesWithAdapter(base, adapter);
  const values: Record<string, HostTensor> = {};
  // One tensor read at a time (the whole result is held, as merge and export write it all).
  for (const [n, v] of Object.entries(lazy)) values[n] = await resolveParameterValue(v);
  return { base, values, adapted: adapter !== undefined };
}
