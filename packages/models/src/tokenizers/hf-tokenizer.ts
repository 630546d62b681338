import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { LowrankError } from '@lowrank/core';
import { chatTemplateOf, parseGenerationTokenIds, resolveSpecialTokens, type GenerationTokenIds } from './special-tokens.js';
import type { TextTokenizer } from './text-tokenizer.js';

export class TokenizerLoadError extends LowrankError {}

/** What a model directory adds to tokenizer.json and tokenizer_config.json. */
export interface TokenizerExtras {
  /** Token ids of generation_config.json. */
  readonly generation?: GenerationTokenIds;
  /** A chat template from chat_template.jinja; wins over tokenizer_config.json's, as in transformers. */
  readonly chatTemplate?: string;
}

/** A Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram ...) through @huggingface/tokenizers. */
export class HFTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  readonly stopIds: readonly number[];
  readonly chatTemplate: string | null;
  readonly templateVariables: Readonly<Record<string, string | readonly string[]>>;
  private readonly tok: Tokenizer;

  constructor(tokenizerJson: object, tokenizerConfig: Record<string, unknown> = {}, extras: TokenizerExtras = {}) {
    this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.vocabSize = this.tok.get_vocab(true).size;
    const special = resolveSpecialTokens(tokenizerConfig, extras.generation ?? null, (t) => this.tok.token_to_id(t));
    this.bosId = special.bosId;
    this.eosId = special.eosId;
    this.padId = special.padId;
    this.stopIds = special.stopIds;
    this.templateVariables = special.templateVariables;
    this.chatTemplate = extras.chatTemplate ?? chatTemplateOf(tokenizerConfig);
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const ids = this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
    // A malformed tokenizer.json can make the library return holes (an unknown word with no usable unk_token).
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0) {
        throw new TokenizerLoadError(`tokenizer produced token id ${String(id)} for ${JSON.stringify(text.slice(0, 40))}; its tokenizer.json is malformed (check model.unk_token and the vocabulary)`);
      }
    }
    return ids;
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    return this.tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenize(text: string): string[] {
    return this.tok.tokenize(text);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  const text = await readOptional(path);
  if (text === null) return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new TokenizerLoadError(`'${path}' is not valid JSON (${(e as Error).message}); re-download the tokenizer files`);
  }
}

/**
 * Loads `dir/tokenizer.json` with what sits beside it when present:
 * tokenizer_config.json (special tokens, chat_template), generation_config.json
 * (eos_token_id list) and chat_template.jinja (where newer transformers saves the template).
 */
export async function loadTokenizer(dir: string): Promise<HFTokenizer> {
  const json = await readJson(join(dir, 'tokenizer.json'));
  if (!json) throw new TokenizerLoadError(`'${dir}' has no tokenizer.json; save the tokenizer with the model (tokenizer.save_pretrained) or use the byte tokenizer`);
  const config = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const generation = await readJson(join(dir, 'generation_config.json'));
  const chatTemplate = await readOptional(join(dir, 'chat_template.jinja'));
  const extras: TokenizerExtras = { ...(generation ? { generation: parseGenerationTokenIds(generation) } : {}), ...(chatTemplate !== null ? { chatTemplate } : {}) };
  try {
    return new HFTokenizer(json, config, extras);
  } catch (e) {
    throw new TokenizerLoadError(`'${join(dir, 'tokenizer.json')}' could not be built: ${(e as Error).message}`);
  }
}
