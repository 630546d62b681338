import type { Graph, HostTensor, StepHook, Tensor } from '@lowrank/core';
import { adaptAdaLora } from './adalora-adapter.js';
import { applyAdapters, applyDyLora, applyRankDropout, dyLoraHook, initialAdapterState, loraLayers, quantizeModel, setAdapterTraining, type AppliedAdapter, type LoraConfig, type ResolvedLoraConfig } from '@lowrank/variants';
import type { VariantName } from '../command-options.js';
import type { BaseModel } from './base-model.js';
import { UnsupportedAdapterError } from '../errors.js';
import { checkAdapterFits, readPeftAdapter, savePeftAdapter } from './peft-files.js';
import { targetModulesFromCli } from './target-spec.js';

export interface AdapterSpec {
  readonly variant: VariantName;
  readonly r: number;
  readonly alpha: number;
  readonly dropout: number;
  /** Module names to adapt, ['all-linear'], or [one regex] (targetModulesFromCli); undefined: PEFT's default for the architecture. */
  readonly targets?: readonly string[];
  readonly seed: number;
  /** Optimizer steps of the run (AdaLoRA schedules its rank budget over them). */
  readonly steps?: number;
}

/** The base model with adapters inserted, and everything training and saving need. */
export interface AdaptedModel {
  /** Values of every parameter: frozen base weights (4-bit for QLoRA) and the adapters' initial or loaded values. */
  readonly values: Record<string, HostTensor>;
  readonly trainable: readonly string[];
  /** Rank of each adapted layer. */
  readonly ranks: Readonly<Record<string, number>>;
  readonly hooks: readonly StepHook[];
  readonly config: ResolvedLoraConfig;
  /** Bits per quantized base parameter (QLoRA), else undefined. */
  readonly bitsPerParameter?: number;
  /** The trainer must expose `grad:<name>` outputs (AdaLoRA's sensitivity scores). */
  readonly exposeGradients?: boolean;
  /** A term added to the training loss (AdaLoRA's orthogonality regularizer), from the traced graph. */
  readonly lossTerm?: (graph: Graph) => Tensor | undefined;
  /** Turns adapter dropout on (training) or off (evaluation, generation) for the next trace. */
  setTraining(training: boolean): void;
  /** Writes a PEFT adapter directory from trained values. */
  saveAdapter(dir: string, trained: Readonly<Record<string, HostTensor>>): Promise<void>;
}


/**
 * Inserts the adapters of `spec` into the model with @lowrank/variants (or
 * those of the PEFT adapter directory `from`, whose config then decides rank,
 * alpha, targets and DoRA). QLoRA quantizes the base linear layers to NF4 with
 * double quantization first, as QLoRA does.
 */
export async function adaptModel(base: BaseModel, spec: AdapterSpec, from?: string): Promise<AdaptedModel> {
  if (spec.variant === 'adalora') {
    if (from) throw new UnsupportedAdapterError('--variant adalora trains a new AdaLoRA adapter; continuing from --adapter is only supported for LoRA-format adapters');
    return adaptAdaLora(base, spec);
  }
  const loaded = from ? await readPeftAdapter(from) : undefined;
  const config: LoraConfig = loaded
    ? { ...loaded.config, lora_dropout: spec.dropout }
    : {
        r: spec.r,
        lora_alpha: spec.alpha,
        ...(spec.targets ? { target_modules: targetModulesFromCli(spec.targets) } : {}),
        // lora-drop: --dropout is the rank-dropout probability on the r components, not input dropout.
        lora_dropout: spec.variant === 'lora-drop' ? 0 : spec.dropout,
        use_dora: spec.variant === 'dora',
      };
  let weights = new Map<string, HostTensor>([...base.weights].map(([n, t]) => [n, { shape: t.shape, dtype: 'f32', data: t.data }]));
  let bitsPerParameter: number | undefined;
  if (spec.variant === 'qlora') {
    const q = quantizeModel(base.model, weights, { doubleQuant: true });
    weights = q.weights;
    bitsPerParameter = q.report.bitsPerParameter;
  }
  const hooks: StepHook[] = [];
  let applied: AppliedAdapter;
  if (spec.variant === 'dylora') {
    // DyLoRA draws a rank 1..r per step (fed as data), evaluates and saves at full rank r.
    const dy = applyDyLora(base.model, config);
    hooks.push(dyLoraHook(dy));
    applied = dy.applied;
  } else {
    applied = applyAdapters(base.model, config);
    if (spec.variant === 'lora-drop') applyRankDropout(base.model, spec.dropout);
  }
  const init = initialAdapterState(base.model, weights, { seed: spec.seed });
  const trainable = [...base.model.namedParams()].filter(([, p]) => p.trainable).map(([n]) => n);
  const values: Record<string, HostTensor> = Object.fromEntries(weights);
  for (const [n, t] of init) values[n] = t;
  if (loaded && from) {
    checkAdapterFits(from, base.model, loaded.tensors, applied.config.modules_to_save);
    for (const n of trainable) values[n] = loaded.tensors[n];
  }
  const ranks: Record<string, number> = {};
  for (const [path, layer] of loraLayers(base.model)) ranks[path] = layer.adapters.get(applied.name)?.r ?? 0;
  return {
    values,
    trainable,
    ranks,
    hooks,
    config: applied.config,
    ...(bitsPerParameter !== undefined ? { bitsPerParameter } : {}),
    setTraining: (training) => setAdapterTraining(base.model, training),
    saveAdapter: (dir, trained) => {
      const out: Record<string, HostTensor> = {};
      for (const n of trainable) out[n] = trained[n] ?? values[n];
      return savePeftAdapter(dir, out, applied.config, base.source);
    },
  };
}
