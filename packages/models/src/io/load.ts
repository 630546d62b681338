import { join } from 'node:path';
import { buildModel } from '../architectures/index.js';
import { readConfig } from '../config/index.js';
import { openCheckpoint, type F32Tensor } from '../safetensors/index.js';
import type { LoadedModel } from './presets.js';
import { matchCheckpoint } from './checkpoint-keys.js';

export interface LoadResult extends LoadedModel {
  /** Checkpoint tensors the model does not use (other than known buffers and a tied lm_head). */
  unused: string[];
}

/**
 * Loads a Hugging Face model directory (config.json and model.safetensors or
 * its shards) with every weight decoded to f32 in memory. For large models use
 * openModel: storage precision, lazy, nothing read up front.
 */
export async function loadModel(dir: string): Promise<LoadResult> {
  const config = await readConfig(join(dir, 'config.json'));
  const model = buildModel(config);
  const ckpt = await openCheckpoint(dir);
  try {
    const { keys, unused } = matchCheckpoint(dir, model, ckpt);
    const weights = new Map<string, F32Tensor>();
    for (const [name, k] of keys) weights.set(name, await ckpt.read(k));
    return { config, model, weights, unused };
  } finally {
    await ckpt.close();
  }
}
