import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor, ParameterValue } from '@lowrank/core';
import {
  BYTE_VOCAB_SIZE,
  buildModel,
  ByteTokenizer,
  createPreset,
  declareBaseStorage,
  f32ToBf16,
  f32ToF16,
  isPreset,
  loadTokenizer,
  openModel,
  PRESET_NAMES,
  type LanguageModel,
  type ModelConfig,
  type StorageDtype,
  type TensorLocation,
  type TensorReadMeter,
  type TextTokenizer,
} from '@lowrank/models';
import { ModelNotFoundError } from './base-model.js';

/**
 * A base model opened for a command: config, module tree and parameter values
 * that, for a model directory, are lazy tensors pointing into its safetensors
 * files (nothing read yet); a preset's seeded weights are in memory.
 */
export interface OpenedBase {
  readonly config: ModelConfig;
  readonly model: LanguageModel;
  readonly weights: Map<string, ParameterValue>;
  /** A new module tree of the same config (no weights): for trying an adapter config before reading any weight. */
  readonly freshModel: () => LanguageModel;
  /** Where each lazy weight's bytes are (model directories only). */
  readonly locations: ReadonlyMap<string, TensorLocation>;
  /** What --model named, for messages and checkpoints. */
  readonly source: string;
  /** Float dtype of the checkpoint's weights, and the one the base is held at. */
  readonly checkpointDtype: StorageDtype;
  readonly baseDtype: StorageDtype;
  /** Bytes the parameters occupy in the files and the number of shard files (0 for a preset). */
  readonly fileBytes: number;
  readonly shards: number;
  readonly notes: readonly string[];
}

export interface OpenBaseOptions {
  /** Float dtype to hold the frozen base at (default: the checkpoint's). */
  readonly baseDtype?: StorageDtype;
  /** Counts the tensor bytes read later, for the load progress line. */
  readonly meter?: TensorReadMeter;
}

function presetAt(spec: string, dtype: StorageDtype): OpenedBase {
  const p = createPreset(spec, { seed: 0 });
  const weights = new Map<string, ParameterValue>(p.weights);
  if (dtype !== 'f32') {
    declareBaseStorage(p.model, dtype);
    const round = dtype === 'bf16' ? f32ToBf16 : f32ToF16;
    for (const [name, spec] of p.model.namedParams()) {
      const w = p.weights.get(name);
      if (w && spec.dtype === dtype) weights.set(name, { shape: w.shape, dtype, data: round(w.data) });
    }
  }
  return { config: p.config, model: p.model, freshModel: () => buildModel(p.config), weights, locations: new Map(), source: spec, checkpointDtype: 'f32', baseDtype: dtype, fileBytes: 0, shards: 0, notes: [] };
}

/**
 * Opens --model reading only config.json and the safetensors headers (shapes,
 * dtypes and offsets are validated here), or builds a preset. No tokenizer is
 * read: commands that need one call `loadBaseTokenizer`.
 */
export async function openBaseModel(spec: string, opts: OpenBaseOptions = {}): Promise<OpenedBase> {
  if (isPreset(spec)) return presetAt(spec, opts.baseDtype ?? 'f32');
  if (!existsSync(join(spec, 'config.json'))) {
    throw new ModelNotFoundError(`--model ${spec} is neither a preset (${PRESET_NAMES.join(', ')}) nor a directory with config.json`);
  }
  const o = await openModel(spec, { ...(opts.baseDtype ? { baseDtype: opts.baseDtype } : {}), ...(opts.meter ? { meter: opts.meter } : {}) });
  return {
    config: o.config,
    model: o.model,
    freshModel: () => buildModel(o.config),
    weights: new Map<string, ParameterValue>(o.weights),
    locations: o.locations,
    source: spec,
    checkpointDtype: o.checkpointDtype,
    baseDtype: o.baseDtype,
    fileBytes: o.fileBytes,
    shards: o.shards,
    notes: o.notes,
  };
}

/** The model's tokenizer.json, or the byte tokenizer for a preset or a byte-vocabulary model without one. */
export async function loadBaseTokenizer(base: Pick<OpenedBase, 'source' | 'config'>): Promise<TextTokenizer> {
  if (isPreset(base.source)) return new ByteTokenizer();
  if (existsSync(join(base.source, 'tokenizer.json'))) return loadTokenizer(base.source);
  if (base.config.vocab_size === BYTE_VOCAB_SIZE) return new ByteTokenizer();
  throw new ModelNotFoundError(
    `${base.source} has no tokenizer.json and its vocabulary (${base.config.vocab_size}) is not lowrank's byte vocabulary; add the model's tokenizer.json`,
  );
}

/** Parameter values as the Generator types them (it hands them to setParameters, which resolves or maps lazy ones). */
export function asParameterRecord(values: Readonly<Record<string, ParameterValue>>): Record<string, HostTensor> {
  // Generator/StepRunner still type weights as HostTensor; they only pass them through to Executable.setParameters.
  return values as Record<string, HostTensor>;
}
