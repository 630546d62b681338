import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LowrankError } from '@lowrank/core';
import { BYTE_VOCAB_SIZE, ByteTokenizer, createPreset, isPreset, loadModel, loadTokenizer, PRESET_NAMES, type LoadedModel, type TextTokenizer } from '@lowrank/models';

/** A --model that is neither a preset nor a model directory. */
export class ModelNotFoundError extends LowrankError {}

export interface BaseModel extends LoadedModel {
  readonly tokenizer: TextTokenizer;
  /** What --model named, for messages and checkpoints. */
  readonly source: string;
}

/**
 * Loads a Hugging Face directory with every weight read as f32, or builds a
 * preset with the byte tokenizer (for the demo tour and tests on small models;
 * the CLI commands open models lazily with openBaseModel in open-base.ts).
 * Preset weights always come from seed 0, so every command sees the same base model.
 */
export async function loadBaseModel(spec: string): Promise<BaseModel> {
  if (isPreset(spec)) return { ...createPreset(spec, { seed: 0 }), tokenizer: new ByteTokenizer(), source: spec };
  if (!existsSync(join(spec, 'config.json'))) {
    throw new ModelNotFoundError(`--model ${spec} is neither a preset (${PRESET_NAMES.join(', ')}) nor a directory with config.json`);
  }
  const loaded = await loadModel(spec);
  let tokenizer: TextTokenizer;
  if (existsSync(join(spec, 'tokenizer.json'))) tokenizer = await loadTokenizer(spec);
  else if (loaded.config.vocab_size === BYTE_VOCAB_SIZE) tokenizer = new ByteTokenizer();
  else throw new ModelNotFoundError(`${spec} has no tokenizer.json and its vocabulary (${loaded.config.vocab_size}) is not lowrank's byte vocabulary; add the model's tokenizer.json`);
  return { ...loaded, tokenizer, source: spec };
}
