import type { BatchStream, HostTensor, JsonValue, TrainBatch } from '@lowrank/core';
import { DatasetError } from './errors.js';
import { targetCount, type TrainSequence } from './sequences.js';
import { permutation } from './shuffle.js';
import { IGNORE_INDEX } from './tokenize.js';

/** Feed names of a batch: what the training graph's inputs are called. */
export const INPUT_IDS = 'input_ids';
export const LABELS = 'labels';

/** Stacks sequences into one batch; `fill` extra rows carry no loss (a short last eval batch). */
export function makeBatch(rows: readonly TrainSequence[], batchSize = rows.length): TrainBatch {
  if (rows.length === 0) throw new DatasetError('cannot make a batch from no sequences');
  const T = rows[0].inputIds.length;
  const ids = new Int32Array(batchSize * T);
  const labels = new Int32Array(batchSize * T).fill(IGNORE_INDEX);
  let tokens = 0;
  rows.forEach((r, i) => {
    ids.set(r.inputIds, i * T);
    labels.set(r.labels, i * T);
    tokens += targetCount(r);
  });
  const t = (data: Int32Array): HostTensor => ({ shape: [batchSize, T], dtype: 'i32', data });
  return { feeds: { [INPUT_IDS]: t(ids), [LABELS]: t(labels) }, tokens, inputTokens: rows.length * T };
}

/** The whole set in order, in batches of `batchSize` (the last padded with loss-free rows). */
export function evalBatches(seqs: readonly TrainSequence[], batchSize: number): TrainBatch[] {
  const out: TrainBatch[] = [];
  for (let i = 0; i < seqs.length; i += batchSize) out.push(makeBatch(seqs.slice(i, i + batchSize), batchSize));
  return out;
}

interface Position {
  epoch: number;
  offset: number;
}

/**
 * Endless batches over the sequences, reshuffled each epoch from (seed, epoch).
 * A batch may run across an epoch boundary. The position (epoch, offset) is
 * all that resuming needs.
 */
export class ShuffledBatchStream implements BatchStream {
  private epoch = 0;
  private offset = 0;
  private order: number[];

  constructor(
    private readonly seqs: readonly TrainSequence[],
    readonly batchSize: number,
    private readonly seed: number,
    private readonly shuffle = true,
  ) {
    if (seqs.length === 0) throw new DatasetError('the training set is empty: no sequence has a token to predict; check the data file and --seq-len');
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new DatasetError(`batch size must be an integer >= 1, got ${batchSize}`);
    this.order = this.orderFor(0);
  }

  private orderFor(epoch: number): number[] {
    return this.shuffle ? permutation(this.seqs.length, (this.seed * 1000003 + epoch) >>> 0) : this.seqs.map((_, i) => i);
  }

  get epochsDone(): number {
    return this.epoch + this.offset / this.seqs.length;
  }

  next(): TrainBatch {
    const rows: TrainSequence[] = [];
    while (rows.length < this.batchSize) {
      rows.push(this.seqs[this.order[this.offset++]]);
      if (this.offset === this.seqs.length) {
        this.epoch++;
        this.offset = 0;
        this.order = this.orderFor(this.epoch);
      }
    }
    return makeBatch(rows);
  }

  position(): JsonValue {
    return { epoch: this.epoch, offset: this.offset };
  }

  seek(p: JsonValue): void {
    const pos = p as unknown as Position;
    if (typeof pos !== 'object' || pos === null || !Number.isInteger(pos.epoch) || !Number.isInteger(pos.offset) || pos.offset < 0 || pos.offset >= this.seqs.length) {
      throw new DatasetError(`data position ${JSON.stringify(p)} does not fit this dataset of ${this.seqs.length} sequences; resume with the same data file, --seq-len and layout`);
    }
    this.epoch = pos.epoch;
    this.offset = pos.offset;
    this.order = this.orderFor(this.epoch);
  }
}
