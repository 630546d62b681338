import type { Graph, HostTensor, Module, ParameterValue, StepHook, Tensor } from '@lowrank/core';
import type { TensorLocation, TensorReadMeter } from '@lowrank/models';
import { adaptAdaLora, checkAdaLoraSpec } from './adalora-adapter.js';
import {
  applyAdapters,
  applyDyLora,
  applyRankDropout,
  dyLoraHook,
  initialAdapterState,
  loraLayers,
  quantizeModelStreaming,
  setAdapterTraining,
  type AppliedAdapter,
  type Codebook,
  type LoraConfig,
  type QuantizedLayerEvent,
  type ResolvedLoraConfig,
} from '@lowrank/variants';
import type { VariantName } from '../command-options.js';
import { checkAdapterFits, readPeftAdapter, savePeftAdapter } from './peft-files.js';
import { ReadOnDemandWeights } from './read-on-demand.js';
import { targetModulesFromCli } from './target-spec.js';

/** What adaptModel needs of a base model: its module tree and its parameter values, in memory or lazy. */
export interface AdaptableBase<V extends ParameterValue = ParameterValue> {
  readonly model: Module;
  readonly weights: ReadonlyMap<string, V>;
  /** What --model named (written into the adapter's config). */
  readonly source: string;
  /** Where lazy weights' bytes are, so an initializer can read one weight at a time (DoRA, PiSSA). */
  readonly locations?: ReadonlyMap<string, TensorLocation>;
  /** A fresh module tree of the same model: the adapter config is tried on it before the base is quantized. */
  readonly freshModel?: () => Module;
}

/** How the frozen base is held while adapting (beyond what the variant implies). */
export interface AdaptOptions {
  /** Quantize the base linear layers to this 4-bit codebook (double quantization) as they stream in; qlora implies nf4. */
  readonly quantize?: Codebook;
  /** Called after each base layer is quantized (progress). */
  readonly onQuantizedLayer?: (e: QuantizedLayerEvent) => void;
  /** Counts bytes the initializers read synchronously. */
  readonly meter?: TensorReadMeter;
  /** false: only insert the adapters into the module tree (no initial values, no weight read), for counting. */
  readonly initialize?: boolean;
}

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
export interface AdaptedModel<V extends ParameterValue = HostTensor> {
  /** Values of every parameter: frozen base weights (lazy, or 4-bit for QLoRA) and the adapters' initial or loaded values. */
  readonly values: Record<string, V>;
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
 * alpha, targets and DoRA). A 4-bit base (QLoRA, or --base-dtype nf4/fp4) is
 * quantized first, one weight at a time as it is read (NF4 with double
 * quantization, as QLoRA does). Base weights no initializer needs stay as
 * given (lazy ones unread).
 */
export async function adaptModel<V extends ParameterValue>(base: AdaptableBase<V>, spec: AdapterSpec, from?: string, opts: AdaptOptions = {}): Promise<AdaptedModel<V | HostTensor>> {
  // Options and the adapter file are checked before the base is quantized (which reads every base weight).
  if (spec.variant === 'adalora') checkAdaLoraSpec(spec, from);
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
  let weights: ReadonlyMap<string, V | HostTensor> = base.weights;
  let bitsPerParameter: number | undefined;
  const quantize = opts.quantize ?? (spec.variant === 'qlora' ? 'nf4' : undefined);
  if (quantize) {
    // Target selection errors surface on a spare module tree, not after every weight was read and quantized.
    if (base.freshModel && spec.variant !== 'adalora') {
      if (spec.variant === 'dylora') applyDyLora(base.freshModel(), config);
      else applyAdapters(base.freshModel(), config);
    }
    const q = await quantizeModelStreaming(base.model, base.weights, { codebook: quantize, doubleQuant: true, ...(opts.onQuantizedLayer ? { onLayer: opts.onQuantizedLayer } : {}) });
    // Quantized layers come back as packed HostTensors; every other weight is passed through as given.
    weights = q.weights as Map<string, V | HostTensor>;
    bitsPerParameter = q.report.bitsPerParameter;
  }
  if (spec.variant === 'adalora') return { ...adaptAdaLora({ ...base, weights }, spec), ...(bitsPerParameter !== undefined ? { bitsPerParameter } : {}) };
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
  // DoRA's magnitude (row norms of W) and PiSSA read base weights by name: one at a time, dropped after use.
  const init = opts.initialize === false ? new Map<string, HostTensor>() : initialAdapterState(base.model, new ReadOnDemandWeights(weights, base.locations ?? new Map(), opts.meter), { seed: spec.seed });
  const trainable = [...base.model.namedParams()].filter(([, p]) => p.trainable).map(([n]) => n);
  const values: Record<string, V | HostTensor> = Object.fromEntries(weights);
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
      // Trainable values are always in memory (initialized or loaded), never lazy.
      for (const n of trainable) out[n] = trained[n] ?? (values[n] as HostTensor);
      return savePeftAdapter(dir, out, applied.config, base.source);
    },
  };
}
