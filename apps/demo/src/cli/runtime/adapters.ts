import type { HostTensor, StepHook } from '@lowrank/core';
import { applyAdapters, initialAdapterState, loraLayers, quantizeModel, setAdapterTraining, type LoraConfig, type ResolvedLoraConfig } from '@lowrank/variants';
import type { VariantName } from '../command-options.js';
import type { BaseModel } from './base-model.js';
import { UnsupportedAdapterError } from '../errors.js';
import { checkAdapterFits, readPeftAdapter, savePeftAdapter } from './peft-files.js';

export interface AdapterSpec {
  readonly variant: VariantName;
  readonly r: number;
  readonly alpha: number;
  readonly dropout: number;
  /** Module names to adapt, or ['all-linear']; undefined: PEFT's default for the architecture. */
  readonly targets?: readonly string[];
  readonly seed: number;
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
  /** Turns adapter dropout on (training) or off (evaluation, generation) for the next trace. */
  setTraining(training: boolean): void;
  /** Writes a PEFT adapter directory from trained values. */
  saveAdapter(dir: string, trained: Readonly<Record<string, HostTensor>>): Promise<void>;
}

/** Variants of issue 9, which act during training through hooks. */
const LATER: readonly VariantName[] = ['dylora', 'lora-drop', 'adalora'];

/**
 * Inserts the adapters of `spec` into the model with @lowrank/variants (or
 * those of the PEFT adapter directory `from`, whose config then decides rank,
 * alpha, targets and DoRA). QLoRA quantizes the base linear layers to NF4 with
 * double quantization first, as QLoRA does.
 */
export async function adaptModel(base: BaseModel, spec: AdapterSpec, from?: string): Promise<AdaptedModel> {
  if (LATER.includes(spec.variant)) {
    throw new UnsupportedAdapterError(`--variant ${spec.variant} is not available in this build yet; use lora, dora or qlora`);
  }
  const loaded = from ? await readPeftAdapter(from) : undefined;
  const config: LoraConfig = loaded
    ? { ...loaded.config, lora_dropout: spec.dropout }
    : {
        r: spec.r,
        lora_alpha: spec.alpha,
        ...(spec.targets ? { target_modules: spec.targets.length === 1 && spec.targets[0] === 'all-linear' ? 'all-linear' : [...spec.targets] } : {}),
        lora_dropout: spec.dropout,
        use_dora: spec.variant === 'dora',
      };
  let weights = new Map<string, HostTensor>([...base.weights].map(([n, t]) => [n, { shape: t.shape, dtype: 'f32', data: t.data }]));
  let bitsPerParameter: number | undefined;
  if (spec.variant === 'qlora') {
    const q = quantizeModel(base.model, weights, { doubleQuant: true });
    weights = q.weights;
    bitsPerParameter = q.report.bitsPerParameter;
  }
  const applied = applyAdapters(base.model, config);
  const init = initialAdapterState(base.model, weights, { seed: spec.seed });
  const trainable = [...base.model.namedParams()].filter(([, p]) => p.trainable).map(([n]) => n);
  const values: Record<string, HostTensor> = Object.fromEntries(weights);
  for (const [n, t] of init) values[n] = t;
  if (loaded && from) {
    checkAdapterFits(from, base.model, loaded.tensors);
    for (const n of trainable) values[n] = loaded.tensors[n];
  }
  const ranks: Record<string, number> = {};
  for (const [path, layer] of loraLayers(base.model)) ranks[path] = layer.adapters.get(applied.name)?.r ?? 0;
  return {
    values,
    trainable,
    ranks,
    hooks: [],
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
