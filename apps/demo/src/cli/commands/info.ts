import { Graph } from '@lowrank/core';
import { INPUT_IDS, LABELS, causalLmLoss } from '@lowrank/models';
import type { VariantName } from '../command-options.js';
import { adaptedModulesLine } from '../runtime/adapted-modules.js';
import { adaptModel } from '../runtime/adapters.js';
import { loadBaseModel } from '../runtime/base-model.js';
import { plannedMemoryByPolicy, type PolicyMemory } from '../runtime/planner.js';

export interface InfoArgs {
  model: string;
  adapter?: string;
  variant: VariantName;
  r: number;
  alpha: number;
  target?: string[];
  batchSize: number;
  seqLen: number;
  json: boolean;
}

export interface InfoResult {
  readonly model: string;
  readonly architecture: string;
  readonly totalParameters: number;
  readonly trainableParameters: number;
  readonly trainableShare: number;
  readonly adapterTensors: number;
  /** Paths of the adapted modules, in model order. */
  readonly adaptedModules: readonly string[];
  readonly memory: readonly PolicyMemory[];
  readonly text: string;
}

const count = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** `lowrank info`: sizes of the model and adapter, and planned training memory per checkpoint policy. */
export async function runInfo(a: InfoArgs): Promise<InfoResult> {
  const base = await loadBaseModel(a.model);
  const adapted = await adaptModel(base, { variant: a.variant, r: a.r, alpha: a.alpha, dropout: 0, targets: a.target, seed: 0 }, a.adapter);
  let total = 0;
  let trainable = 0;
  for (const [, spec] of base.model.namedParams()) {
    total += count(spec.shape);
    if (spec.trainable) trainable += count(spec.shape);
  }
  // The info graph needs trainable adapters marked: adaptModel did that on base.model.
  const build = () => {
    const g = new Graph();
    const ids = g.input(INPUT_IDS, [a.batchSize, a.seqLen], 'i32');
    const labels = g.input(LABELS, [a.batchSize, a.seqLen], 'i32');
    return { graph: g, loss: causalLmLoss(base.model.forward({ inputIds: ids }).logits, labels) };
  };
  const memory = plannedMemoryByPolicy(build);
  const adaptedModules = Object.keys(adapted.ranks);
  const arch = String(base.config.architectures?.[0] ?? base.config.model_type);
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const lines = [
    `model          ${base.source} (${arch})`,
    `parameters     ${total.toLocaleString('en-US')}`,
    `trainable      ${trainable.toLocaleString('en-US')} (${((100 * trainable) / total).toFixed(3)}%) in ${adapted.trainable.length} adapter tensors, ${a.variant} r=${adapted.config.r}`,
    adaptedModulesLine(adaptedModules),
    `planned training memory at batch ${a.batchSize} x seq ${a.seqLen}:`,
    ...memory.map((m) => `  ${m.policy.padEnd(13)} peak ${mb(m.peakBytes)}  activations at peak ${mb(m.activationBytes)}  recomputed ops ${m.recomputedOps}`),
  ];
  return {
    model: base.source,
    architecture: arch,
    totalParameters: total,
    trainableParameters: trainable,
    trainableShare: trainable / total,
    adapterTensors: adapted.trainable.length,
    adaptedModules,
    memory,
    text: lines.join('\n') + '\n',
  };
}
