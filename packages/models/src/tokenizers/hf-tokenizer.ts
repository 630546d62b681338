import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { LowrankError } from '@lowrank/core';
import type { TextTokenizer } from './text-tokenizer.js';

export class TokenizerLoadError extends LowrankError {}

type TokenField = string | { content?: string } | null | undefined;

function tokenText(t: TokenField): string | null {
  if (typeof t === 'string') return t;
  return t?.content ?? null;
}

/** A Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram ...) through @huggingface/tokenizers. */
export class HFTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  private readonly tok: Tokenizer;

  constructor(tokenizerJson: object, tokenizerConfig: Record<string, unknown> = {}) {
    this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.vocabSize = this.tok.get_vocab(true).size;
    const id = (field: string) => {
      const text = tokenText(tokenizerConfig[field] as TokenField);
      return text === null ? null : (this.tok.token_to_id(text) ?? null);
    };
    this.bosId = id('bos_token');
    this.eosId = id('eos_token');
    this.padId = id('pad_token');
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

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new TokenizerLoadError(`'${path}' is not valid JSON (${(e as Error).message}); re-download the tokenizer files`);
  }
}

/** Loads `dir/tokenizer.json` (and `tokenizer_config.json` when present). */
export async function loadTokenizer(dir: string): Promise<HFTokenizer> {
  const json = await readJson(join(dir, 'tokenizer.json'));
  if (!json) throw new TokenizerLoadError(`'${dir}' has no tokenizer.json; save the tokenizer with the model (tokenizer.save_pretrained) or use the byte tokenizer`);
  const config = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  try {
    return new HFTokenizer(json, config);
  } catch (e) {
    throw new TokenizerLoadError(`'${join(dir, 'tokenizer.json')}' could not be built: ${(e as Error).message}`);
  }
}
