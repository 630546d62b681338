import { readFile } from 'node:fs/promises';
import { ConfigError, UnsupportedArchitectureError } from '../errors.js';
import type { RawConfig } from './fields.js';
import { parseGPT2Config, type GPT2Config } from './gpt2-config.js';
import { parseLlamaConfig, type LlamaConfig } from './llama-config.js';
import { parseSeq2SeqConfig, type Seq2SeqConfig } from './seq2seq-config.js';
import { parseQwen2Config, parseQwen3Config, type Qwen2Config, type Qwen3Config } from './qwen-config.js';
import { parseMistralConfig, type MistralConfig } from './mistral-config.js';
import { parseGemma2Config, type Gemma2Config } from './gemma2-config.js';
import { parsePhi3Config, type Phi3Config } from './phi3-config.js';

export type { RawConfig } from './fields.js';
export { parseLlamaConfig, type LlamaConfig } from './llama-config.js';
export { parseGPT2Config, type GPT2Config } from './gpt2-config.js';
export { parseSeq2SeqConfig, type Seq2SeqConfig } from './seq2seq-config.js';
export { parseQwen2Config, parseQwen3Config, type Qwen2Config, type Qwen3Config } from './qwen-config.js';
export { parseMistralConfig, type MistralConfig } from './mistral-config.js';
export { parseGemma2Config, type Gemma2Config } from './gemma2-config.js';
export { parsePhi3Config, type Phi3Config } from './phi3-config.js';
export type { DecoderFields, LayerType } from './decoder-fields.js';
export { parseRopeScaling, ropeInvFreq, type RopeScaling } from './rope-scaling.js';

/** Any config lowrank can build a model from. */
export type ModelConfig = LlamaConfig | GPT2Config | Seq2SeqConfig | Qwen2Config | Qwen3Config | MistralConfig | Gemma2Config | Phi3Config;

const PARSERS: Record<string, (raw: RawConfig, source: string) => ModelConfig> = {
  LlamaForCausalLM: parseLlamaConfig,
  GPT2LMHeadModel: parseGPT2Config,
  LowrankSeq2SeqLM: parseSeq2SeqConfig,
  Qwen2ForCausalLM: parseQwen2Config,
  Qwen3ForCausalLM: parseQwen3Config,
  MistralForCausalLM: parseMistralConfig,
  Gemma2ForCausalLM: parseGemma2Config,
  Phi3ForCausalLM: parsePhi3Config,
};
const BY_MODEL_TYPE: Record<string, string> = {
  llama: 'LlamaForCausalLM',
  gpt2: 'GPT2LMHeadModel',
  'lowrank-seq2seq': 'LowrankSeq2SeqLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  mistral: 'MistralForCausalLM',
  gemma2: 'Gemma2ForCausalLM',
  phi3: 'Phi3ForCausalLM',
};

export const SUPPORTED_ARCHITECTURES: readonly string[] = Object.keys(PARSERS);

/**
 * Validates a parsed config.json and fills transformers' defaults. The
 * architecture comes from `architectures[0]`, else from `model_type`.
 */
export function parseConfig(raw: unknown, source = 'config.json'): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('<root>', 'must be a JSON object', source);
  const r = raw as RawConfig;
  let arch: string | undefined;
  if (Array.isArray(r.architectures) && r.architectures.length > 0) {
    if (r.architectures.length > 1) throw new ConfigError('architectures', `lists ${r.architectures.length} classes; give exactly one`, source);
    arch = String(r.architectures[0]);
  } else if (typeof r.model_type === 'string') {
    arch = Object.hasOwn(BY_MODEL_TYPE, r.model_type) ? BY_MODEL_TYPE[r.model_type] : `model_type '${r.model_type}'`;
  }
  if (arch === undefined) throw new ConfigError('architectures', 'is missing, and so is model_type: cannot tell which model to build', source);
  const parse = Object.hasOwn(PARSERS, arch) ? PARSERS[arch] : undefined;
  if (!parse) throw new UnsupportedArchitectureError(arch, SUPPORTED_ARCHITECTURES, source);
  return checkSizes(parse(r, source), source);
}

// Fields that become tensor dimensions or loop counts: a fractional, negative or absurd value
// from a hostile file must fail here with a typed error, not later inside a backend.
const SIZE_FIELDS = [
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim',
  'max_position_embeddings', 'n_positions', 'n_embd', 'n_layer', 'n_head', 'n_inner', 'num_encoder_layers', 'num_decoder_layers',
] as const;
const MAX_DIMENSION = 2 ** 31 - 1;

function checkSizes<C extends ModelConfig>(config: C, source: string): C {
  const c = config as unknown as Record<string, unknown>;
  for (const field of SIZE_FIELDS) {
    const v = c[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_DIMENSION) {
      throw new ConfigError(field, `must be an integer between 1 and ${MAX_DIMENSION}, got ${JSON.stringify(v)}`, source);
    }
  }
  return config;
}

/** Reads and parses `path` (a config.json). */
export async function readConfig(path: string): Promise<ModelConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError('<file>', 'does not exist; a model directory needs a config.json', path);
    throw new ConfigError('<root>', `is not valid JSON (${(e as Error).message})`, path);
  }
  return parseConfig(raw, path);
}
