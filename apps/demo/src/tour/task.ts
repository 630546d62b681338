// The fine-tuning task of the tour, built in memory so Node and the browser share it.
import { ByteTokenizer, tokenizeRow, toSequences, type DataRow, type TrainSequence } from '@lowrank/models';

/** Letter pairs the task repeats; the merge demo trains one adapter per half. */
export const TASK_PAIRS: readonly string[] = ['ab', 'cd', 'ef', 'gh'];

export interface TaskData {
  readonly train: readonly TrainSequence[];
  readonly heldOut: readonly TrainSequence[];
  readonly seqLen: number;
}

/**
 * "<pair>x<n>=" must be completed by the pair repeated n times. A randomly
 * initialised model cannot do this (its loss is near ln(vocab)); the loss is
 * on the completion only.
 */
export function repeatTaskRows(count: number, seed: number, pairs: readonly string[] = TASK_PAIRS): DataRow[] {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const rows: DataRow[] = [];
  for (let i = 0; i < count; i++) {
    const w = pairs[Math.floor(rand() * pairs.length)];
    const n = 2 + Math.floor(rand() * 3);
    rows.push({ kind: 'prompt', prompt: `${w}x${n}=`, completion: Array<string>(n).fill(w).join(' '), line: i + 1 });
  }
  return rows;
}

export function taskSequences(rows: readonly DataRow[], seqLen: number): TrainSequence[] {
  const tok = new ByteTokenizer();
  const encoder = { vocabSize: tok.vocabSize, bosId: tok.bosId, eosId: tok.eosId, encode: (t: string) => tok.encode(t, { addSpecialTokens: false }) };
  const examples = rows.map((r) => tokenizeRow(r, encoder, '<repeat task>'));
  return toSequences(examples, { seqLen, layout: 'padding', padTokenId: tok.padId ?? tok.eosId ?? 0 }).sequences;
}

/** Training rows and a held-out set drawn with another seed (evaluated on all pairs). */
export function makeTask(opts: { trainRows: number; heldOutRows: number; seqLen: number; seed: number; pairs?: readonly string[] }): TaskData {
  return {
    train: taskSequences(repeatTaskRows(opts.trainRows, opts.seed, opts.pairs), opts.seqLen),
    heldOut: taskSequences(repeatTaskRows(opts.heldOutRows, opts.seed + 1000), opts.seqLen),
    seqLen: opts.seqLen,
  };
}
