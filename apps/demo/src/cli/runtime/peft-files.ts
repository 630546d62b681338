import type { HostTensor, Module } from '@lowrank/core';
import { AdapterMismatchError, compareWithModel, loadAdapter, saveAdapter } from '@lowrank/models';
import type { LoraConfig, ResolvedLoraConfig } from '@lowrank/variants';

export { AdapterMismatchError };

/** Writes a PEFT adapter directory (the models package's PEFT writer) from a resolved variants config. */
export async function savePeftAdapter(dir: string, tensors: Readonly<Record<string, HostTensor>>, config: ResolvedLoraConfig, baseModel: string): Promise<void> {
  await saveAdapter(
    dir,
    {
      r: config.r,
      lora_alpha: config.lora_alpha,
      target_modules: config.target_modules,
      exclude_modules: config.exclude_modules,
      lora_dropout: config.lora_dropout,
      use_rslora: config.use_rslora,
      use_dora: config.use_dora,
      rank_pattern: config.rank_pattern,
      alpha_pattern: config.alpha_pattern,
      modules_to_save: config.modules_to_save,
      layers_to_transform: config.layers_to_transform,
      layers_pattern: config.layers_pattern,
    },
    tensors,
    { base_model_name_or_path: baseModel },
  );
}

/** Reads a PEFT adapter directory: the LoRA config to apply, and its tensors under lowrank's parameter names. */
export async function readPeftAdapter(dir: string): Promise<{ config: LoraConfig; tensors: Record<string, HostTensor> }> {
  const { config: c, tensors } = await loadAdapter(dir);
  const config: LoraConfig = {
    r: c.r,
    lora_alpha: c.lora_alpha,
    ...(c.target_modules !== null ? { target_modules: c.target_modules } : {}),
    ...(c.exclude_modules != null ? { exclude_modules: c.exclude_modules } : {}),
    lora_dropout: c.lora_dropout,
    use_rslora: c.use_rslora,
    use_dora: c.use_dora,
    rank_pattern: c.rank_pattern,
    alpha_pattern: c.alpha_pattern,
    modules_to_save: c.modules_to_save ?? null,
    layers_to_transform: c.layers_to_transform ?? null,
    layers_pattern: c.layers_pattern ?? null,
  };
  return { config, tensors: Object.fromEntries(tensors) };
}

/** Every difference between the adapter's tensors and the adapters the model now declares, as one error. */
export function checkAdapterFits(dir: string, model: Module, tensors: Readonly<Record<string, HostTensor>>, modulesToSave: readonly string[] | null = null): void {
  const differences = compareWithModel(model, 'default', new Map(Object.entries(tensors)), undefined, modulesToSave);
  if (differences.length) throw new AdapterMismatchError(dir, differences);
}
