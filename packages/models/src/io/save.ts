import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildModel } from '../architectures/index.js';
import type { ModelConfig } from '../config/index.js';
import { writeBytesAtomic, writeCheckpoint, type FloatStorage, type WritableTensor } from '../safetensors/index.js';
import { checkWeights } from './weights-check.js';

export interface SaveOptions {
  /** Float storage of the weights (torch_dtype in config.json). Default f32. */
  dtype?: FloatStorage;
  /** Split into shards with an index above this many bytes. */
  maxShardBytes?: number;
}

const TORCH_DTYPE: Record<FloatStorage, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

function generationConfig(config: ModelConfig): Record<string, unknown> | null {
  if (config.model_type === 'lowrank-seq2seq') return null;
  const out: Record<string, unknown> = {};
  if (config.bos_token_id !== null) out.bos_token_id = config.bos_token_id;
  if (config.eos_token_id !== null) out.eos_token_id = config.eos_token_id;
  if (config.model_type === 'llama' && config.pad_token_id !== null) out.pad_token_id = config.pad_token_id;
  return out;
}

/**
 * Writes a Hugging Face model directory: config.json, model.safetensors
 * (metadata format=pt; sharded with an index when asked) and
 * generation_config.json. Every parameter the config implies must be present.
 */
export async function saveModel(
  dir: string,
  model: { config: ModelConfig; weights: ReadonlyMap<string, WritableTensor> },
  opts: SaveOptions = {},
): Promise<string[]> {
  const { config, weights } = model;
  checkWeights(dir, buildModel(config), (n) => weights.get(n)?.shape);
  await mkdir(dir, { recursive: true });
  const dtype = opts.dtype ?? 'f32';
  const files = await writeCheckpoint(dir, weights, {
    dtype,
    metadata: { format: 'pt' },
    ...(opts.maxShardBytes !== undefined ? { maxShardBytes: opts.maxShardBytes } : {}),
  });
  await writeBytesAtomic(join(dir, 'config.json'), JSON.stringify({ ...config, torch_dtype: TORCH_DTYPE[dtype] }, null, 2) + '\n');
  files.push('config.json');
  const gen = generationConfig(config);
  if (gen) {
    await writeBytesAtomic(join(dir, 'generation_config.json'), JSON.stringify(gen, null, 2) + '\n');
    files.push('generation_config.json');
  }
  return files;
}
