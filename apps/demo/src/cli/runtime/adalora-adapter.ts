import { ops, type Graph, type HostTensor, type ParameterValue, type Tensor } from '@lowrank/core';
import { saveAdaLoraAdapter } from '@lowrank/models';
import { AdaLoraAllocator, applyAdaLora, initialAdaLoraState, orthogonalRegularizer, prunedAdaLoraState, resolveLoraConfig, setAdaLoraTraining } from '@lowrank/variants';
import type { AdaptableBase, AdaptedModel, AdapterSpec } from './adapters.js';
import { UnsupportedAdapterError } from '../errors.js';
import { targetModulesFromCli } from './target-spec.js';

/** What AdaLoRA needs of the options, checked before any weight is read. */
export function checkAdaLoraSpec(spec: AdapterSpec, from?: string): void {
  if (from) throw new UnsupportedAdapterError('--variant adalora trains a new AdaLoRA adapter; continuing from --adapter is only supported for LoRA-format adapters');
  if (!((spec.steps ?? 0) >= 10)) throw new UnsupportedAdapterError('--variant adalora needs --steps >= 10 (its rank budget is scheduled over the run)');
}

/**
 * AdaLoRA from CLI options: init_r = --r, target_r = ⌊r/2⌋ (at least 1), budgeting between 10% and 80% of
 * --steps with a reallocation every step (PEFT's deltaT default), orthogonality weight 0.5 (PEFT's default).
 * The adapter is saved in PEFT's ADALORA format with its rank_pattern and the pruned triplets removed.
 */
export function adaptAdaLora<V extends ParameterValue>(base: AdaptableBase<V>, spec: AdapterSpec): AdaptedModel<V | HostTensor> {
  checkAdaLoraSpec(spec);
  const steps = spec.steps!;
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
  // Base weights pass through as given (lazy ones stay unread); AdaLoRA's init reads none of them.
  const values: Record<string, V | HostTensor> = Object.fromEntries(base.weights);
  for (const [n, t] of initialAdaLoraState(applied, spec.seed)) values[n] = t;
  const trainable = [...base.model.namedParams()].filter(([, p]) => p.trainable).map(([n]) => n);
  let training = true;
  return {
    values,
    trainable,
    ranks: Object.fromEntries(applied.layers.map((l) => [l.path, l.r])),
    hooks: [allocator],
    config: resolveLoraConfig({ r: spec.r, lora_alpha: spec.alpha, target_modules: targetModules, lora_dropout: spec.dropout }),
    // The allocator scores and masks inside the step graph: no gradient output needed.
    exposeGradients: false,
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
