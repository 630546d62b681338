/**
 * adapter_config.json as PEFT writes it for a LoRA adapter. The LoRA fields
 * use PEFT's names, so the parsed object is also a valid LoraConfig of
 * @lowrank/variants. Fields lowrank does not use are kept as read.
 */
export interface PeftAdapterConfig {
  peft_type: string;
  task_type?: string | null;
  base_model_name_or_path?: string | null;
  inference_mode?: boolean;
  r: number;
  lora_alpha: number;
  target_modules: string[] | string | null;
  exclude_modules?: string[] | string | null;
  lora_dropout: number;
  bias: 'none' | 'all' | 'lora_only';
  use_rslora: boolean;
  use_dora: boolean;
  fan_in_fan_out: boolean;
  init_lora_weights: boolean | string;
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  modules_to_save?: string[] | null;
  layers_to_transform?: number[] | number | null;
  layers_pattern?: string[] | string | null;
  [other: string]: unknown;
}

/** The LoRA fields of a config, as a caller may give them (PEFT's defaults fill the rest). */
export interface LoraFields {
  r?: number;
  lora_alpha?: number;
  target_modules?: readonly string[] | string | null;
  exclude_modules?: readonly string[] | string | null;
  lora_dropout?: number;
  bias?: 'none' | 'all' | 'lora_only';
  use_rslora?: boolean;
  use_dora?: boolean;
  fan_in_fan_out?: boolean;
  init_lora_weights?: boolean | string;
  rank_pattern?: Readonly<Record<string, number>>;
  alpha_pattern?: Readonly<Record<string, number>>;
  /** Modules trained in full and saved with the adapter (their tensors under `base_model.model.<path>.<param>`). */
  modules_to_save?: readonly string[] | null;
  layers_to_transform?: readonly number[] | number | null;
  layers_pattern?: readonly string[] | string | null;
}

const copyList = <T>(v: readonly T[] | T | null | undefined): T[] | T | null => (v === undefined || v === null ? null : Array.isArray(v) ? [...(v as readonly T[])] : (v as T));

/** A full adapter_config.json for LoRA fields, with PEFT's defaults. */
export function peftConfigFor(fields: LoraFields, extra: { base_model_name_or_path?: string | null; task_type?: string | null } = {}): PeftAdapterConfig {
  return {
    peft_type: 'LORA',
    task_type: extra.task_type ?? 'CAUSAL_LM',
    base_model_name_or_path: extra.base_model_name_or_path ?? null,
    inference_mode: true,
    r: fields.r ?? 8,
    lora_alpha: fields.lora_alpha ?? 8,
    target_modules: fields.target_modules === undefined || fields.target_modules === null ? null : typeof fields.target_modules === 'string' ? fields.target_modules : [...fields.target_modules],
    exclude_modules: fields.exclude_modules === undefined || fields.exclude_modules === null ? null : typeof fields.exclude_modules === 'string' ? fields.exclude_modules : [...fields.exclude_modules],
    lora_dropout: fields.lora_dropout ?? 0,
    bias: fields.bias ?? 'none',
    use_rslora: fields.use_rslora ?? false,
    use_dora: fields.use_dora ?? false,
    fan_in_fan_out: fields.fan_in_fan_out ?? false,
    init_lora_weights: fields.init_lora_weights ?? true,
    rank_pattern: { ...(fields.rank_pattern ?? {}) },
    alpha_pattern: { ...(fields.alpha_pattern ?? {}) },
    modules_to_save: fields.modules_to_save ? [...fields.modules_to_save] : null,
    layers_to_transform: copyList(fields.layers_to_transform),
    layers_pattern: copyList(fields.layers_pattern),
  };
}
