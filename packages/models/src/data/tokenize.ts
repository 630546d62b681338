import type { DataRow } from './rows.js';
import { DataFormatError } from './errors.js';

/** What the data pipeline needs from a tokenizer (every TextTokenizer fits). */
export interface DataTokenizer {
  /** Plain token ids of the text, without special tokens. */
  encode(text: string): readonly number[];
  readonly vocabSize: number;
  /** Appended after each text or completion so the model learns where an example ends. */
  readonly eosId?: number | null;
  /** Prepended to each example when set. */
  readonly bosId?: number | null;
}

/** Token ids and labels aligned as Hugging Face aligns them: the model shifts labels itself (-100: no loss). */
export interface TokenizedExample {
  readonly ids: readonly number[];
  readonly labels: readonly number[];
  readonly line: number;
}

export const IGNORE_INDEX = -100;

/**
 * Tokenizes a row. Prompt rows get labels -100 over the prompt so the loss is
 * on the completion only; pre-tokenized rows keep their labels (or copy the ids).
 */
export function tokenizeRow(row: DataRow, tok: DataTokenizer, file = '<data>'): TokenizedExample {
  const bos = tok.bosId != null ? [tok.bosId] : [];
  const eos = tok.eosId != null ? [tok.eosId] : [];
  let ids: number[];
  let labels: number[];
  if (row.kind === 'messages') {
    throw new DataFormatError(file, row.line, 'a {"messages"} row is rendered with the chat template: tokenize it with tokenizeExamples and a tokenizer that has one');
  }
  if (row.kind === 'tokens') {
    ids = [...row.inputIds];
    labels = row.labels ? [...row.labels] : [...ids];
    for (const [i, id] of ids.entries()) {
      if (id < 0 || id >= tok.vocabSize) throw new DataFormatError(file, row.line, `input_ids[${i}] = ${id} is outside the vocabulary [0, ${tok.vocabSize})`);
    }
    for (const [i, l] of labels.entries()) {
      if (l !== IGNORE_INDEX && (l < 0 || l >= tok.vocabSize)) {
        throw new DataFormatError(file, row.line, `labels[${i}] = ${l} is outside the vocabulary [0, ${tok.vocabSize}) and is not -100`);
      }
    }
  } else if (row.kind === 'prompt') {
    const p = [...bos, ...tok.encode(row.prompt)];
    const c = [...tok.encode(row.completion), ...eos];
    ids = [...p, ...c];
    labels = [...p.map(() => IGNORE_INDEX), ...c];
  } else {
    ids = [...bos, ...tok.encode(row.text), ...eos];
    labels = bos.length ? [IGNORE_INDEX, ...ids.slice(1)] : [...ids];
  }
  return { ids, labels, line: row.line };
}
