import { DatasetError } from './errors.js';
import { IGNORE_INDEX, type TokenizedExample } from './tokenize.js';

/**
 * A fixed-length training sequence with labels aligned to the inputs as
 * Hugging Face aligns them: the loss shifts them (logits at t predict
 * labels[t + 1]), so labels[0] never counts. -100 marks no loss.
 */
export interface TrainSequence {
  readonly inputIds: Int32Array;
  readonly labels: Int32Array;
}

export type SequenceLayout = 'padding' | 'packing';
export const LAYOUTS: readonly SequenceLayout[] = ['padding', 'packing'];

export interface SequenceOptions {
  readonly seqLen: number;
  /** `padding`: one example per sequence, cut or padded; `packing`: examples back to back, cut into seqLen pieces. */
  readonly layout?: SequenceLayout;
  readonly padTokenId?: number;
}

export interface SequenceStats {
  readonly sequences: number;
  /** Examples cut because they were longer than the sequence (padding layout). */
  readonly truncated: number;
  /** Examples left with no token to predict (dropped). */
  readonly dropped: number;
}

/**
 * Lays tokenized examples out as fixed-length sequences (static shapes: one
 * compiled graph). Packing masks the first label of each example, so no
 * position is trained to predict across the boundary into the next example.
 */
export function toSequences(examples: readonly TokenizedExample[], opts: SequenceOptions): { sequences: TrainSequence[]; stats: SequenceStats } {
  const T = opts.seqLen;
  if (!Number.isInteger(T) || T < 2) throw new DatasetError(`seqLen must be an integer >= 2, got ${T}`);
  const pad = opts.padTokenId ?? 0;
  const layout = opts.layout ?? 'padding';
  const sequences: TrainSequence[] = [];
  let truncated = 0;
  let dropped = 0;
  const push = (ids: readonly number[], labels: readonly number[]) => {
    const seq = { inputIds: new Int32Array(T).fill(pad), labels: new Int32Array(T).fill(IGNORE_INDEX) };
    seq.inputIds.set(ids.slice(0, T));
    seq.labels.set(labels.slice(0, T));
    if (targetCount(seq) > 0) sequences.push(seq);
    else dropped++;
  };
  if (layout === 'padding') {
    for (const e of examples) {
      if (e.ids.length > T) truncated++;
      push(e.ids, e.labels);
    }
  } else {
    const ids: number[] = [];
    const labels: number[] = [];
    // Element by element: spreading a long document into push() overflows the call stack.
    for (const e of examples) {
      for (let i = 0; i < e.ids.length; i++) {
        ids.push(e.ids[i]);
        labels.push(i === 0 ? IGNORE_INDEX : e.labels[i]);
      }
    }
    for (let s = 0; s < ids.length; s += T) push(ids.slice(s, s + T), labels.slice(s, s + T));
  }
  return { sequences, stats: { sequences: sequences.length, truncated, dropped } };
}

/** Tokens the shifted loss counts: labels after the first that are not -100. */
export function targetCount(s: TrainSequence): number {
  let n = 0;
  for (let i = 1; i < s.labels.length; i++) if (s.labels[i] !== IGNORE_INDEX) n++;
  return n;
}
