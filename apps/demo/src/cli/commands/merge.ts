import { saveModel } from '@lowrank/models';
import { loraLayers, mergeAndUnload } from '@lowrank/variants';
import { loadModelWithAdapter } from '../runtime/model-with-adapter.js';

export interface MergeArgs {
  model: string;
  adapter: string;
  out: string;
  json: boolean;
}

/**
 * `lowrank merge`: bakes the adapter into the base weights (PEFT's
 * merge_and_unload: LoRA W + s·B·A, DoRA with its magnitude rescaling) and
 * writes a plain Hugging Face model directory.
 */
export async function runMerge(a: MergeArgs): Promise<{ out: string; mergedModules: number; files: string[]; notices: readonly string[] }> {
  const { base, values } = await loadModelWithAdapter(a.model, a.adapter);
  const mergedModules = loraLayers(base.model).size;
  const { weights, notices } = mergeAndUnload(base.model, values);
  const files = await saveModel(a.out, { config: base.config, weights });
  return { out: a.out, mergedModules, files, notices };
}
