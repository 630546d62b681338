import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostTensor, Module } from '@lowrank/core';
import { openSafetensors, writeBytesAtomic, writeSafetensors, type FloatStorage } from '../safetensors/index.js';
import { peftConfigFor, type LoraFields, type PeftAdapterConfig } from './config.js';
import { AdapterFormatError, AdapterMismatchError, UnknownPeftTypeError, type AdapterDifference } from './errors.js';
import { DEFAULT_ADAPTER, fromPeftKey, inModuleToSave, parseAdapterParam, PEFT_PREFIX, toPeftKey } from './keys.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

export interface SaveAdapterOptions {
  /** Adapter to save (default 'default'); its name is not part of the saved keys. */
  adapter?: string;
  /** Storage of the float tensors (default f32). */
  dtype?: FloatStorage;
  base_model_name_or_path?: string | null;
  task_type?: string | null;
}

/**
 * Writes a PEFT adapter directory: adapter_config.json (peft_type LORA with
 * the given LoRA fields) and adapter_model.safetensors with PEFT's keys
 * (`base_model.model.<module>.lora_A.weight` [r, in], `lora_B.weight`
 * [out, r], `lora_magnitude_vector` [out]) and metadata {"format": "pt"}.
 * `tensors` may hold any parameters: only the chosen adapter's are written,
 * and, with config.modules_to_save, the parameters of those modules, under
 * `base_model.model.<name>` as PEFT saves a ModulesToSaveWrapper.
 */
export async function saveAdapter(
  dir: string,
  config: LoraFields,
  tensors: ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>,
  opts: SaveAdapterOptions = {},
): Promise<{ keys: string[] }> {
  const adapter = opts.adapter ?? DEFAULT_ADAPTER;
  const entries = tensors instanceof Map ? [...(tensors as ReadonlyMap<string, HostTensor>)] : Object.entries(tensors as Record<string, HostTensor>);
  const out = new Map<string, HostTensor>();
  for (const [name, t] of entries) {
    const p = parseAdapterParam(name);
    if (p && p.adapter === adapter) out.set(toPeftKey(p), t);
    else if (!p && inModuleToSave(name, config.modules_to_save)) out.set(`${PEFT_PREFIX}${name}`, t);
  }
  if (out.size === 0) throw new AdapterFormatError(dir, `no tensors of adapter '${adapter}' were given to save (expected names like '<module>.lora_A.weight')`);
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), out, { metadata: { format: 'pt' }, dtype: opts.dtype ?? 'f32' });
  const json = peftConfigFor(config, { base_model_name_or_path: opts.base_model_name_or_path, task_type: opts.task_type });
  await writeBytesAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(json, null, 2)}\n`);
  return { keys: [...out.keys()].sort() };
}

export interface LoadAdapterOptions {
  /** Name to load the adapter under (default 'default'): decides the parameter names. */
  adapter?: string;
  /** When given, the tensors are checked against the adapter parameters the model declares. */
  model?: Module;
}

export interface LoadedAdapter {
  readonly config: PeftAdapterConfig;
  /** Adapter tensors by lowrank parameter name, as f32 (modules_to_save tensors under their base parameter names). */
  readonly tensors: Map<string, HostTensor>;
  /** The PEFT key each parameter came from. */
  readonly keys: ReadonlyMap<string, string>;
}

async function readConfig(dir: string): Promise<PeftAdapterConfig> {
  let text: string;
  try {
    text = await readFile(join(dir, ADAPTER_CONFIG_FILE), 'utf8');
  } catch {
    throw new AdapterFormatError(dir, `has no ${ADAPTER_CONFIG_FILE}; is this a PEFT adapter directory?`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AdapterFormatError(dir, `${ADAPTER_CONFIG_FILE} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AdapterFormatError(dir, `${ADAPTER_CONFIG_FILE} must hold a JSON object`);
  const c = json as Record<string, unknown>;
  const type = String(c.peft_type ?? '');
  if (type !== 'LORA') throw new UnknownPeftTypeError(dir, type || '<missing>');
  if (!(typeof c.r === 'number' && Number.isInteger(c.r) && c.r > 0)) throw new AdapterFormatError(dir, `${ADAPTER_CONFIG_FILE}: r must be a positive integer, got ${JSON.stringify(c.r)}`);
  const defaults = peftConfigFor({});
  return { ...defaults, ...c } as PeftAdapterConfig;
}

/**
 * Reads a PEFT adapter directory (as PEFT's save_pretrained writes it, or
 * saveAdapter). With `model`, every adapter tensor the model declares for the
 * adapter must be present with its shape, and the file may hold no others;
 * all differences are reported at once in an AdapterMismatchError.
 */
export async function loadAdapter(dir: string, opts: LoadAdapterOptions = {}): Promise<LoadedAdapter> {
  const adapter = opts.adapter ?? DEFAULT_ADAPTER;
  const config = await readConfig(dir);
  const file = await openSafetensors(join(dir, ADAPTER_WEIGHTS_FILE)).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new AdapterFormatError(dir, `has no ${ADAPTER_WEIGHTS_FILE}`);
    throw e;
  });
  const tensors = new Map<string, HostTensor>();
  const keys = new Map<string, string>();
  const differences: AdapterDifference[] = [];
  try {
    for (const key of file.names()) {
      const saved = key.startsWith(PEFT_PREFIX) && inModuleToSave(key.slice(PEFT_PREFIX.length), config.modules_to_save) ? key.slice(PEFT_PREFIX.length) : null;
      const name = fromPeftKey(key, adapter) ?? saved;
      if (name === null) {
        differences.push({ kind: 'unexpected', key, detail: 'not a LoRA tensor of a LORA adapter (expected base_model.model.<module>.lora_A.weight, lora_B.weight or lora_magnitude_vector)' });
        continue;
      }
      tensors.set(name, await file.read(key));
      keys.set(name, key);
    }
  } finally {
    await file.close();
  }
  if (opts.model) differences.push(...compareWithModel(opts.model, adapter, tensors, keys, config.modules_to_save));
  if (differences.length) throw new AdapterMismatchError(dir, differences);
  return { config, tensors, keys };
}

/**
 * Differences between loaded adapter tensors and the adapter parameters a
 * model declares (and, with modulesToSave, the parameters of those modules).
 */
export function compareWithModel(
  model: Module,
  adapter: string,
  tensors: ReadonlyMap<string, HostTensor>,
  keys?: ReadonlyMap<string, string>,
  modulesToSave?: readonly string[] | null,
): AdapterDifference[] {
  const expected = new Map<string, readonly number[]>();
  for (const [name, spec] of model.namedParams()) {
    const p = parseAdapterParam(name);
    if ((p && p.adapter === adapter) || (!p && inModuleToSave(name, modulesToSave))) expected.set(name, spec.shape);
  }
  const keyOf = (name: string) => keys?.get(name) ?? (parseAdapterParam(name) ? toPeftKey(parseAdapterParam(name)!) : `${PEFT_PREFIX}${name}`);
  const out: AdapterDifference[] = [];
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) out.push({ kind: 'missing', key: keyOf(name), detail: `the model adapts this module (shape [${shape.join(', ')}]) but the file has no tensor for it` });
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      out.push({ kind: 'shape', key: keyOf(name), detail: `file has [${t.shape.join(', ')}], the model expects [${shape.join(', ')}]` });
    }
  }
  for (const name of tensors.keys()) {
    if (!expected.has(name)) out.push({ kind: 'unexpected', key: keyOf(name), detail: 'the model has no adapter on this module (target_modules differ, or another architecture)' });
  }
  return out;
}
