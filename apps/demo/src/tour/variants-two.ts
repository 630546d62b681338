// Variants II in the tour: DyLoRA (one adapter, every rank), AdaLoRA (budgeted pruning of ranks).
import { ops, type HostTensor } from '@lowrank/core';
import {
  AdaLoraAllocator,
  applyAdaLora,
  applyDyLora,
  dyLoraHook,
  initialAdaLoraState,
  initialAdapterState,
  loraLayers,
  orthogonalRegularizer,
  setAdaLoraTraining,
  setAdapterTraining,
  type DyLoraHook,
} from '@lowrank/variants';
import type { BaseModel } from '../cli/runtime/base-model.js';
import { ALL_LINEAR, type AdapterFactory, type AdapterSetup } from './train-method.js';

function baseValues(base: BaseModel): Record<string, HostTensor> {
  return Object.fromEntries([...base.weights].map(([n, t]) => [n, { shape: t.shape, dtype: 'f32', data: t.data }]));
}

function trainableNames(base: BaseModel): string[] {
  return [...base.model.namedParams()].filter(([, p]) => p.trainable).map(([n]) => n);
}

/** DyLoRA of rank r; `onHook` receives the rank hook, whose evalRank picks the rank evaluations use. */
export function dyLoraAdapters(onHook: (hook: DyLoraHook) => void): AdapterFactory {
  return async (base, s) => {
    const dy = applyDyLora(base.model, { r: s.rank, lora_alpha: 2 * s.rank, target_modules: [...ALL_LINEAR], lora_dropout: 0 });
    const hook = dyLoraHook(dy);
    onHook(hook);
    const values = baseValues(base);
    for (const [n, t] of initialAdapterState(base.model, base.weights, { seed: s.seed })) values[n] = t;
    const ranks: Record<string, number> = {};
    for (const [path, layer] of loraLayers(base.model)) ranks[path] = layer.adapters.get(dy.applied.name)?.r ?? 0;
    return { values, trainable: trainableNames(base), hooks: [hook], ranks, setTraining: (t) => setAdapterTraining(base.model, t) };
  };
}

/** Ranks worth evaluating for a DyLoRA adapter of rank r: powers of two, and r. */
export function sweepRanks(r: number): number[] {
  const out: number[] = [];
  for (let k = 1; k < r; k *= 2) out.push(k);
  return [...out, r];
}

/**
 * AdaLoRA starting at rank `init_r` = 1.5 × the tour's rank and pruned to an
 * average of half the tour's rank, with PEFT's cubic budget schedule over the
 * middle of the run; `onAllocator` receives the rank allocator (its final
 * per-layer ranks feed the report).
 */
export function adaLoraAdapters(onAllocator: (a: AdaLoraAllocator) => void): AdapterFactory {
  return async (base, s) => {
    const initR = Math.round(1.5 * s.rank);
    const applied = applyAdaLora(base.model, {
      init_r: initR,
      target_r: Math.max(1, Math.round(s.rank / 2)),
      tinit: Math.round(s.steps * 0.2),
      tfinal: Math.round(s.steps * 0.2),
      deltaT: Math.max(1, Math.round(s.steps / 40)),
      total_step: s.steps,
      lora_alpha: 2 * s.rank,
      target_modules: [...ALL_LINEAR],
    });
    const allocator = new AdaLoraAllocator(applied);
    onAllocator(allocator);
    const values = baseValues(base);
    for (const [n, t] of initialAdaLoraState(applied, s.seed)) values[n] = t;
    const setup: AdapterSetup = {
      values,
      trainable: trainableNames(base),
      hooks: [allocator],
      ranks: allocator.activeRanks(),
      setTraining: (t) => setAdaLoraTraining(applied, t),
      exposeGradients: false,
      extendLoss: ({ graph, loss }) => {
        const reg = orthogonalRegularizer(graph, applied);
        return { graph, loss: reg ? graph.at('', [], () => ops.add(loss, ops.mul(reg, applied.config.orth_reg_weight))) : loss };
      },
    };
    return setup;
  };
}
