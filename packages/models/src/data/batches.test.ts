import { describe, expect, it } from 'vitest';
import { evalBatches, makeBatch, ShuffledBatchStream } from './batches.js';
import { DatasetError } from './errors.js';
import { targetCount, toSequences, type TrainSequence } from './sequences.js';
import { permutation, trainValidationSplit } from './shuffle.js';
import { IGNORE_INDEX, type TokenizedExample } from './tokenize.js';

const ex = (ids: number[], labels = ids): TokenizedExample => ({ ids, labels, line: 1 });
const arr = (a: Int32Array) => Array.from(a);

describe('sequences', () => {
  it('padding keeps labels aligned with the inputs (the loss shifts them), truncates and pads', () => {
    const { sequences, stats } = toSequences([ex([1, 2, 3]), ex([4, 5, 6, 7, 8, 9], [-100, -100, 6, 7, 8, 9])], { seqLen: 4, padTokenId: 0 });
    expect(arr(sequences[0].inputIds)).toEqual([1, 2, 3, 0]);
    expect(arr(sequences[0].labels)).toEqual([1, 2, 3, IGNORE_INDEX]);
    expect(targetCount(sequences[0])).toBe(2);
    expect(arr(sequences[1].inputIds)).toEqual([4, 5, 6, 7]);
    expect(arr(sequences[1].labels)).toEqual([IGNORE_INDEX, IGNORE_INDEX, 6, 7]);
    expect(stats).toEqual({ sequences: 2, truncated: 1, dropped: 0 });
  });

  it('packing runs examples back to back and never predicts across their boundary', () => {
    const { sequences } = toSequences([ex([1, 2, 3]), ex([4, 5]), ex([6, 7, 8])], { seqLen: 3, layout: 'packing' });
    expect(sequences.map((s) => arr(s.inputIds))).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 0]]);
    // the first token of each example gets no label: nothing learns to predict it from the previous example
    expect(sequences.map((s) => arr(s.labels))).toEqual([
      [-100, 2, 3],
      [-100, 5, -100],
      [7, 8, -100],
    ]);
    expect(sequences.map(targetCount)).toEqual([2, 1, 1]);
  });

  it('drops sequences with nothing to predict', () => {
    const { sequences, stats } = toSequences([ex([1]), ex([1, 2, 3], [1, -100, -100])], { seqLen: 4 });
    expect(sequences).toEqual([]);
    expect(stats.dropped).toBe(2);
  });
});

describe('shuffling, splitting and batching', () => {
  const seqs: TrainSequence[] = Array.from({ length: 5 }, (_, i) => ({
    inputIds: Int32Array.of(i, i),
    labels: Int32Array.of(i, i === 0 ? -100 : i),
  }));

  it('permutations are seeded: same seed same order, other seed other order', () => {
    expect(permutation(20, 4)).toEqual(permutation(20, 4));
    expect(permutation(20, 4)).not.toEqual(permutation(20, 5));
    expect([...permutation(20, 4)].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('splits every item to exactly one side', () => {
    const { train, validation } = trainValidationSplit(Array.from({ length: 10 }, (_, i) => i), 0.2, 1);
    expect(validation).toHaveLength(2);
    expect([...train, ...validation].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(() => trainValidationSplit([1], 0.5, 1)).toThrow(DatasetError);
  });

  it('counts loss tokens and pads a short eval batch with loss-free rows', () => {
    const b = makeBatch(seqs.slice(0, 2));
    expect(b.tokens).toBe(1); // only labels[1] counts (the loss shifts); sequence 0's is -100
    expect(b.feeds.input_ids.shape).toEqual([2, 2]);
    expect(b.inputTokens).toBe(4);
    const evals = evalBatches(seqs, 2);
    expect(evals.map((e) => e.tokens)).toEqual([1, 2, 1]);
    expect(Array.from(evals[2].feeds.labels.data)).toEqual([4, 4, -100, -100]);
  });

  it('streams every sequence once per epoch and resumes from its position', () => {
    const s = new ShuffledBatchStream(seqs, 2, 9);
    const firstIds = (n: number, stream: ShuffledBatchStream) =>
      Array.from({ length: n }, () => Array.from(stream.next().feeds.input_ids.data).filter((_, i) => i % 2 === 0)).flat();
    const epochs = firstIds(5, s); // 10 rows = two epochs
    expect([...epochs.slice(0, 5)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect([...epochs.slice(5)].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(epochs.slice(0, 5)).not.toEqual(epochs.slice(5));

    const a = new ShuffledBatchStream(seqs, 2, 9);
    a.next();
    a.next();
    a.next();
    const pos = a.position();
    const rest = firstIds(3, a);
    const b = new ShuffledBatchStream(seqs, 2, 9);
    b.seek(JSON.parse(JSON.stringify(pos)));
    expect(firstIds(3, b)).toEqual(rest);
    expect(() => b.seek({ epoch: 0, offset: 99 })).toThrow(/does not fit this dataset of 5 sequences/);
    expect(() => new ShuffledBatchStream([], 2, 1)).toThrow(/training set is empty/);
  });
});
