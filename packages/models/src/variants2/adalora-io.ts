import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostTensor } from '@lowrank/core';
import { PEFT_PREFIX } from '../peft/keys.js';
import { AdapterFormatError } from '../peft/errors.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../peft/adapter-io.js';
import { readSafetensors, writeBytesAtomic, writeSafetensors } from '../safetensors/index.js';

/** adapter_config.json of a PEFT AdaLoRA adapter (peft_type ADALORA). */
export interface AdaLoraAdapterConfig {
  peft_type: 'ADALORA';
  task_type: string | null;
  base_model_name_or_path: string | null;
  inference_mode: boolean;
  init_r: number;
  target_r: number;
  tinit: number;
  tfinal: number;
  deltaT: number;
  beta1: number;
  beta2: number;
  orth_reg_weight: number;
  total_step: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: readonly string[] | string | null;
  /** Keep flags per `<module>.lora_E`; the saved tensors hold only the kept triplets. */
  rank_pattern: Record<string, boolean[]> | null;
  bias: 'none';
  fan_in_fan_out: boolean;
  [other: string]: unknown;
}

/** The AdaLoRA fields to save (a resolved AdaLoraConfig of @lowrank/variants fits). */
export interface AdaLoraFields {
  readonly init_r: number;
  readonly target_r: number;
  readonly tinit: number;
  readonly tfinal: number;
  readonly deltaT: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly orth_reg_weight: number;
  readonly total_step: number;
  readonly lora_alpha: number;
  readonly lora_dropout: number;
  readonly target_modules: readonly string[] | string | null;
  readonly rank_pattern: Readonly<Record<string, readonly boolean[]>> | null;
  readonly task_type?: string | null;
  readonly base_model_name_or_path?: string | null;
}

/**
 * Writes an AdaLoRA adapter as PEFT does: tensors under
 * `base_model.model.<module>.lora_A` [r_i, in], `lora_B` [out, r_i] and
 * `lora_E` [r_i, 1] (no `.weight` suffix: they are ParameterDict entries),
 * already cut to the kept triplets, with the rank_pattern in the config.
 */
export async function saveAdaLoraAdapter(dir: string, config: AdaLoraFields, tensors: Readonly<Record<string, HostTensor>>): Promise<{ keys: string[] }> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of Object.entries(tensors)) {
    if (!/\.lora_[ABE]$/.test(name)) continue;
    out.set(`${PEFT_PREFIX}${name}`, t);
  }
  if (out.size === 0) throw new AdapterFormatError(dir, "no AdaLoRA tensors to save (expected names ending in '.lora_A', '.lora_B', '.lora_E')");
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), out, { metadata: { format: 'pt' }, dtype: 'f32' });
  const json: AdaLoraAdapterConfig = {
    peft_type: 'ADALORA',
    task_type: config.task_type ?? 'CAUSAL_LM',
    base_model_name_or_path: config.base_model_name_or_path ?? null,
    inference_mode: true,
    init_r: config.init_r,
    target_r: config.target_r,
    tinit: config.tinit,
    tfinal: config.tfinal,
    deltaT: config.deltaT,
    beta1: config.beta1,
    beta2: config.beta2,
    orth_reg_weight: config.orth_reg_weight,
    total_step: config.total_step,
    lora_alpha: config.lora_alpha,
    lora_dropout: config.lora_dropout,
    target_modules: config.target_modules === null || typeof config.target_modules === 'string' ? config.target_modules : [...config.target_modules],
    rank_pattern: config.rank_pattern ? Object.fromEntries(Object.entries(config.rank_pattern).map(([k, v]) => [k, [...v]])) : null,
    bias: 'none',
    fan_in_fan_out: false,
  };
  await writeBytesAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(json, null, 2)}\n`);
  return { keys: [...out.keys()].sort() };
}

/** Reads an AdaLoRA adapter directory: its config and tensors by lowrank parameter name (`<module>.lora_A`, ...). */
export async function loadAdaLoraAdapter(dir: string): Promise<{ config: AdaLoraAdapterConfig; tensors: Map<string, HostTensor> }> {
  let config: AdaLoraAdapterConfig;
  try {
    config = JSON.parse(await readFile(join(dir, ADAPTER_CONFIG_FILE), 'utf8')) as AdaLoraAdapterConfig;
  } catch (e) {
    throw new AdapterFormatError(dir, `has no readable ${ADAPTER_CONFIG_FILE} (${(e as Error).message})`);
  }
  if (config.peft_type !== 'ADALORA') throw new AdapterFormatError(dir, `is a ${String(config.peft_type)} adapter, not ADALORA; use loadAdapter for LoRA`);
  const raw = await readSafetensors(join(dir, ADAPTER_WEIGHTS_FILE));
  const tensors = new Map<string, HostTensor>();
  for (const [key, t] of raw) {
    if (!key.startsWith(PEFT_PREFIX)) throw new AdapterFormatError(dir, `tensor '${key}' does not start with '${PEFT_PREFIX}'`);
    tensors.set(key.slice(PEFT_PREFIX.length), { shape: [...t.shape], dtype: 'f32', data: t.data });
  }
  return { config, tensors };
}
