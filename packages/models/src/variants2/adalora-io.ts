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

/**
 * Writes an AdaLoRA adapter as PEFT does: tensors under
 * `base_model.model.<module>.lora_A` [r_i, in], `lora_B` [out, r_i] and
 * `lora_E` [r_i, 1] (no `.weight` suffix: they are ParameterDict entries),
 * already cut to the kept triplets, with the rank_pattern in the config.
 */
export async function saveAdaLoraAdapter(dir: string, config: Omit<AdaLoraAdapterConfig, 'peft_type' | 'inference_mode' | 'bias' | 'fan_in_fan_out' | 'task_type' | 'base_model_name_or_path'> & Partial<AdaLoraAdapterConfig>, tensors: Readonly<Record<string, HostTensor>>): Promise<{ keys: string[] }> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of Object.entries(tensors)) {
    if (!/\.lora_[ABE]$/.test(name)) continue;
    out.set(`${PEFT_PREFIX}${name}`, t);
  }
  if (out.size === 0) throw new AdapterFormatError(dir, "no AdaLoRA tensors to save (expected names ending in '.lora_A', '.lora_B', '.lora_E')");
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), out, { metadata: { format: 'pt' }, dtype: 'f32' });
  const json: AdaLoraAdapterConfig = { task_type: 'CAUSAL_LM', base_model_name_or_path: null, ...config, peft_type: 'ADALORA', inference_mode: true, bias: 'none', fan_in_fan_out: false };
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
