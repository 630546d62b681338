import { ops, type Graph, type HostTensor, type Tensor } from '@lowrank/core';
import { saveAdaLoraAdapter } from '@lowrank/models';
import { AdaLoraAllocator, applyAdaLora, initialAdaLoraState, orthogonalRegularizer, prunedAdaLoraState, resolveLoraConfig, setAdaLoraTraining } from '@lowrank/variants';
import type { AdaptedModel, AdapterSpec } from './adapters.js';
import type { BaseModel } from './base-model.js';
import { UnsupportedAdapterError } from '../errors.js';
import { targetModulesFromCli } from './target-spec.js';

/**
 * AdaLoRA from CLI options: init_r = --r, target_r = ⌊r/2⌋ (at least 1), budgeting between 10% and 80% of
 * --steps with a reallocation every step (PEFT's deltaT default), orthogonality weight 0.5 (PEFT's default).
 * The adapter is saved in PEFT's ADALORA format with its rank_pattern and the pruned triplets removed.
 */
export function adaptAdaLora(base: BaseModel, spec: AdapterSpec): AdaptedModel {
  const steps = spec.steps ?? 0;
  if (!(steps >= 10)) throw new UnsupportedAdapterError('--variant adalora needs --steps >= 10 (its rank budget is scheduled over the run)');
  const targetModules = spec.targets ? targetModulesFromCli(spec.targets) : null;
  const applied = applyAdaLora(base.model, {
    init_r: spec.r,
    target_r: Math.max(1, Math.floor(spec.r / 2)),
    tinit: Math.floor(steps * 0.1),
    tfinal: Math.floor(steps * 0.2),
    deltaT: 1,
    total_step: steps,
    lora_alpha: spec.alpha,
    lora_dropout: spec.dropout,
    target_modules: targetModules,
  });
  const allocator = new AdaLoraAllocator(applied);
  const values: Record<string, HostTensor> = {};
  for (const [n, t] of base.weights) values[n] = { shape: t.shape, dtype: 'f32', data: t.data };
  for (const [n, t] of initialAdaLoraState(applied, spec.seed)) values[n] = t;
  const trainable = [...base.model.namedParams()].filter(([, p]) => p.trainable).map(([n]) => n);
  let training = true;
  return {
    values,
    trainable,
    ranks: Object.fromEntries(applied.layers.map((l) => [l.path, l.r])),
    hooks: [allocator],
    config: resolveLoraConfig({ r: spec.r, lora_alpha: spec.alpha, target_modules: targetModules, lora_dropout: spec.dropout }),
    exposeGradients: true,
    lossTerm: (graph: Graph): Tensor | undefined => {
      if (!training) return undefined;
      const reg = orthogonalRegularizer(graph, applied);
      return reg && graph.at('', [], () => ops.mul(reg, applied.config.orth_reg_weight));
    },
    setTraining: (t) => {
      training = t;
      setAdaLoraTraining(applied, t);
    },
    saveAdapter: async (dir, trained) => {
      const pruned = prunedAdaLoraState(applied, trained, allocator.rankPattern());
      await saveAdaLoraAdapter(dir, { ...applied.config, rank_pattern: pruned.rankPattern, base_model_name_or_path: base.source }, pruned.tensors);
    },
  };
}
