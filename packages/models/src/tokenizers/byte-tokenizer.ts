import { LowrankError } from '@lowrank/core';
import type { TextTokenizer } from './text-tokenizer.js';

/** Ids 0..255 are bytes; three special tokens follow. */
export const BYTE_SPECIAL_IDS = { bos: 256, eos: 257, pad: 258 } as const;
export const BYTE_VOCAB_SIZE = 259;
const SPECIAL_TEXT: Record<number, string> = { 256: '<bos>', 257: '<eos>', 258: '<pad>' };

export class TokenIdError extends LowrankError {}

/**
 * The tokenizer of the models lowrank builds itself: one token per UTF-8
 * byte, so any text encodes and the vocabulary is tiny.
 */
export class ByteTokenizer implements TextTokenizer {
  readonly vocabSize = BYTE_VOCAB_SIZE;
  readonly bosId = BYTE_SPECIAL_IDS.bos;
  readonly eosId = BYTE_SPECIAL_IDS.eos;
  readonly padId = BYTE_SPECIAL_IDS.pad;

  encode(text: string, opts: { addSpecialTokens?: boolean; addEos?: boolean } = {}): number[] {
    const ids = Array.from(new TextEncoder().encode(text));
    if (opts.addSpecialTokens) ids.unshift(this.bosId);
    if (opts.addEos) ids.push(this.eosId);
    return ids;
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    let out = '';
    let run: number[] = [];
    const flush = () => {
      out += new TextDecoder('utf-8').decode(Uint8Array.from(run));
      run = [];
    };
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= BYTE_VOCAB_SIZE) throw new TokenIdError(`token id ${id} is outside the byte vocabulary [0, ${BYTE_VOCAB_SIZE})`);
      if (id < 256) run.push(id);
      else {
        flush();
        if (!opts.skipSpecialTokens) out += SPECIAL_TEXT[id];
      }
    }
    flush();
    return out;
  }
}
