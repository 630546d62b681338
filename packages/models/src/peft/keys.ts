/** Prefix PEFT puts before every module path in a saved adapter. */
export const PEFT_PREFIX = 'base_model.model.';

export const DEFAULT_ADAPTER = 'default';

const ADAPTER_PARAM = /^(.*)\.(lora_A|lora_B)(?:\.([^.]+))?\.weight$/;
const MAGNITUDE_PARAM = /^(.*)\.lora_magnitude_vector(?:\.([^.]+))?$/;

/** A parameter of the model that belongs to an adapter: its module path, tensor kind and adapter name. */
export interface AdapterParam {
  readonly module: string;
  readonly kind: 'lora_A' | 'lora_B' | 'lora_magnitude_vector';
  readonly adapter: string;
}

/**
 * Parses lowrank's adapter parameter names: `<module>.lora_A.weight` (the
 * default adapter) or `<module>.lora_A.<name>.weight`, likewise lora_B, and
 * `<module>.lora_magnitude_vector[.<name>]` (DoRA). Null for other names.
 */
export function parseAdapterParam(name: string): AdapterParam | null {
  const m = ADAPTER_PARAM.exec(name);
  if (m) return { module: m[1], kind: m[2] as 'lora_A' | 'lora_B', adapter: m[3] ?? DEFAULT_ADAPTER };
  const d = MAGNITUDE_PARAM.exec(name);
  if (d) return { module: d[1], kind: 'lora_magnitude_vector', adapter: d[2] ?? DEFAULT_ADAPTER };
  return null;
}

/** PEFT's saved key for an adapter parameter: the adapter name is dropped, the module gets PEFT's prefix. */
export function toPeftKey(p: AdapterParam): string {
  const suffix = p.kind === 'lora_magnitude_vector' ? p.kind : `${p.kind}.weight`;
  return `${PEFT_PREFIX}${p.module}.${suffix}`;
}

/** lowrank's parameter name for a PEFT key when loaded as adapter `adapter`; null if the key is not a LoRA tensor. */
export function fromPeftKey(key: string, adapter: string = DEFAULT_ADAPTER): string | null {
  if (!key.startsWith(PEFT_PREFIX)) return null;
  const rest = key.slice(PEFT_PREFIX.length);
  const named = adapter !== DEFAULT_ADAPTER;
  const ab = /^(.*)\.(lora_A|lora_B)\.weight$/.exec(rest);
  if (ab) return named ? `${ab[1]}.${ab[2]}.${adapter}.weight` : rest;
  // Older PEFT versions saved the magnitude with a `.weight` suffix.
  const mag = /^(.*)\.lora_magnitude_vector(?:\.weight)?$/.exec(rest);
  if (mag) return named ? `${mag[1]}.lora_magnitude_vector.${adapter}` : `${mag[1]}.lora_magnitude_vector`;
  return null;
}

/**
 * Whether parameter `name` belongs to a module PEFT saves in full
 * (modules_to_save): some module on its path ends with an entry (PEFT's endswith rule).
 */
export function inModuleToSave(name: string, modulesToSave: readonly string[] | null | undefined): boolean {
  if (!modulesToSave || modulesToSave.length === 0) return false;
  const parts = name.split('.');
  for (let i = 1; i < parts.length; i++) {
    const module = parts.slice(0, i).join('.');
    if (modulesToSave.some((m) => module.endsWith(m))) return true;
  }
  return false;
}
