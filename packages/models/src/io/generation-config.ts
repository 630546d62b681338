import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';

/** The fields of generation_config.json that lowrank's generator uses. */
export interface GenerationDefaults {
  bosTokenId: number | null;
  /** Tokens that end generation (eos_token_id as a list). */
  stopTokens: number[];
  padTokenId: number | null;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  maxNewTokens?: number;
}

const ids = (v: unknown): number[] => (typeof v === 'number' ? [v] : Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : []);
const optNumber = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/**
 * Generation defaults of a model directory: generation_config.json when
 * present (as transformers prefers it), else the token ids of config.json.
 */
export async function readGenerationDefaults(dir: string, config: ModelConfig): Promise<GenerationDefaults> {
  const fromConfig: Record<string, unknown> =
    config.model_type === 'lowrank-seq2seq' ? {} : { bos_token_id: config.bos_token_id, eos_token_id: config.eos_token_id, pad_token_id: config.model_type === 'llama' ? config.pad_token_id : null };
  let raw: Record<string, unknown> = {};
  const path = join(dir, 'generation_config.json');
  try {
    raw = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError('<root>', `is not valid JSON (${(e as Error).message})`, path);
  }
  const merged = { ...fromConfig, ...raw };
  const out: GenerationDefaults = {
    bosTokenId: optNumber(merged.bos_token_id) ?? null,
    stopTokens: ids(merged.eos_token_id),
    padTokenId: optNumber(merged.pad_token_id) ?? null,
  };
  if (typeof merged.do_sample === 'boolean') out.doSample = merged.do_sample;
  const t = optNumber(merged.temperature);
  if (t !== undefined) out.temperature = t;
  const k = optNumber(merged.top_k);
  if (k !== undefined) out.topK = k;
  const p = optNumber(merged.top_p);
  if (p !== undefined) out.topP = p;
  const m = optNumber(merged.max_new_tokens);
  if (m !== undefined) out.maxNewTokens = m;
  return out;
}
