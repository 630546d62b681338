// Merging two adapters: each learned a different task; the merged adapter is scored on both tasks.
import type { Backend, HostTensor } from '@lowrank/core';
import { addWeightedAdapter, adapterLocalName, applyAdapters, DEFAULT_ADAPTER, setActiveAdapters, setAdapterTraining, type AdapterTensor } from '@lowrank/variants';
import type { BaseModel } from '../cli/runtime/base-model.js';
import { accuracyOf, greedyExactMatch } from './accuracy.js';
import { heldOutLoss } from './evaluate.js';
import type { TaskData } from './task.js';
import { ALL_LINEAR, type MethodResult } from './train-method.js';

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
  /** Held-out loss on both tasks' prompts together. */
  readonly heldOutAfter: number;
  /** Exact-match accuracy of the merged adapter on each task's held-out prompts (in the order given). */
  readonly accuracy: readonly number[];
  readonly rank: number;
  readonly adapterBytes: number;
  readonly trainableParams: number;
}

/**
 * Concatenates the two trained LoRA adapters (PEFT's `cat` combination, weights 1 and 1) and evaluates the
 * result on each task and, for the loss, on `both` (the two tasks' held-out sets together).
 */
export async function mergeTwoAdapters(
  backend: Backend,
  loadBase: () => Promise<BaseModel>,
  first: MethodResult,
  second: MethodResult,
  rank: number,
  tasks: readonly TaskData[],
  both: TaskData,
  batchSize: number,
): Promise<MergeOutcome> {
  const base = await loadBase();
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
  const values = Object.fromEntries(merged.weights);
  const loss = await heldOutLoss(backend, base.model, values, both.heldOut, batchSize, both.seqLen);
  const accuracy: number[] = [];
  for (const t of tasks) {
    const m = await greedyExactMatch({ backend, model: base.model, tokenizer: base.tokenizer, values: merged.weights, examples: t.heldOutExamples, batchSize: both.decodeBatch });
    accuracy.push(accuracyOf(m));
  }
  return { heldOutAfter: loss, accuracy, rank: merged.rank, adapterBytes: 4 * trainableParams, trainableParams };
}
