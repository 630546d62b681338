// Merging two adapters: each learns half of the task's pairs; the merged adapter is scored on all of them.
import type { Backend, HostTensor } from '@lowrank/core';
import { addWeightedAdapter, adapterLocalName, applyAdapters, DEFAULT_ADAPTER, setActiveAdapters, setAdapterTraining, type AdapterTensor } from '@lowrank/variants';
import { loadBaseModel } from '../cli/runtime/base-model.js';
import { heldOutLoss } from './evaluate.js';
import type { TaskData } from './task.js';
import { ALL_LINEAR, BASE_MODEL, type MethodResult } from './train-method.js';

const KINDS: readonly AdapterTensor[] = ['lora_A', 'lora_B'];

/** Renames a default adapter's tensors to those of adapter `name` (PEFT's in-memory naming). */
function renameAdapter(trained: Readonly<Record<string, HostTensor>>, name: string): [string, HostTensor][] {
  return Object.entries(trained).map(([key, t]) => {
    for (const k of KINDS) {
      const local = adapterLocalName(k, DEFAULT_ADAPTER);
      if (key.endsWith(`.${local}`)) return [key.slice(0, -local.length) + adapterLocalName(k, name), t];
    }
    return [key, t];
  });
}

export interface MergeOutcome {
  readonly heldOutAfter: number;
  readonly rank: number;
  readonly adapterBytes: number;
  readonly trainableParams: number;
}

/** Concatenates the two trained LoRA adapters (PEFT's `cat` combination, weights 1 and 1) and evaluates the result. */
export async function mergeTwoAdapters(backend: Backend, first: MethodResult, second: MethodResult, rank: number, task: TaskData, batchSize: number): Promise<MergeOutcome> {
  const base = await loadBaseModel(BASE_MODEL);
  const config = { r: rank, lora_alpha: 2 * rank, target_modules: [...ALL_LINEAR], lora_dropout: 0 };
  applyAdapters(base.model, config, 'first');
  applyAdapters(base.model, config, 'second');
  const weights = new Map<string, HostTensor>([...base.weights].map(([n, t]) => [n, { shape: t.shape, dtype: 'f32', data: t.data }]));
  for (const [n, t] of [...renameAdapter(first.trained, 'first'), ...renameAdapter(second.trained, 'second')]) weights.set(n, t);
  const merged = addWeightedAdapter(base.model, weights, { adapters: ['first', 'second'], weights: [1, 1], name: 'merged', combinationType: 'cat' });
  setActiveAdapters(base.model, ['merged']);
  setAdapterTraining(base.model, false);
  let trainableParams = 0;
  for (const [n, t] of merged.weights) if (n.includes('.merged.')) trainableParams += t.shape.reduce((a, b) => a * b, 1);
  const loss = await heldOutLoss(backend, base.model, Object.fromEntries(merged.weights), task.heldOut, batchSize, task.seqLen);
  return { heldOutAfter: loss, rank: merged.rank, adapterBytes: 4 * trainableParams, trainableParams };
}
