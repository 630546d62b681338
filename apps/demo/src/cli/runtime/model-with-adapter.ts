import type { HostTensor } from '@lowrank/core';
import { adaptModel } from './adapters.js';
import { loadBaseModel, type BaseModel } from './base-model.js';

/** The base model, with the adapter directory applied when given, and every parameter's value. */
export async function loadModelWithAdapter(model: string, adapter: string | undefined): Promise<{ base: BaseModel; values: Record<string, HostTensor>; adapted: boolean }> {
  const base = await loadBaseModel(model);
  if (adapter) {
    const a = await adaptModel(base, { variant: 'lora', r: 1, alpha: 1, dropout: 0, seed: 0 }, adapter);
    a.setTraining(false);
    return { base, values: a.values, adapted: true };
  }
  const values: Record<string, HostTensor> = {};
  for (const [n, t] of base.weights) values[n] = { shape: t.shape, dtype: 'f32', data: t.data };
  return { base, values, adapted: false };
}
