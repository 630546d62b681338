import {
  evalBatches,
  readDatasetFile,
  ShuffledBatchStream,
  tokenizeRow,
  toSequences,
  trainValidationSplit,
  type SequenceLayout,
  type TextTokenizer,
  type TrainSequence,
} from '@lowrank/models';
import type { TrainBatch } from '@lowrank/core';

export interface DataOptions {
  readonly seqLen: number;
  readonly layout: SequenceLayout;
}

/** A file's rows, tokenized and laid out as fixed-length sequences. */
export async function sequencesFromFile(file: string, tok: TextTokenizer, opts: DataOptions): Promise<TrainSequence[]> {
  const rows = await readDatasetFile(file);
  // Plain ids: the pipeline adds BOS/EOS itself, around the prompt and completion.
  const encoder = { vocabSize: tok.vocabSize, bosId: tok.bosId, eosId: tok.eosId, encode: (t: string) => tok.encode(t, { addSpecialTokens: false }) };
  const examples = rows.map((r) => tokenizeRow(r, encoder, file));
  return toSequences(examples, { seqLen: opts.seqLen, layout: opts.layout, padTokenId: tok.padId ?? tok.eosId ?? 0 }).sequences;
}

export interface TrainData {
  readonly stream: ShuffledBatchStream;
  readonly validation: readonly TrainSequence[];
  readonly trainSequences: number;
}

/** Training stream and held-out set: a separate file, or a seeded split of the training file. */
export async function prepareTrainData(
  opts: DataOptions & { data: string; validationData?: string; validationFraction: number; batchSize: number; seed: number },
  tok: TextTokenizer,
): Promise<TrainData> {
  const all = await sequencesFromFile(opts.data, tok, opts);
  let train = all;
  let validation: TrainSequence[];
  if (opts.validationData) validation = await sequencesFromFile(opts.validationData, tok, opts);
  else ({ train, validation } = trainValidationSplit(all, opts.validationFraction, opts.seed));
  return { stream: new ShuffledBatchStream(train, opts.batchSize, opts.seed), validation, trainSequences: train.length };
}

export function heldOutBatches(seqs: readonly TrainSequence[], batchSize: number, maxBatches = Infinity): TrainBatch[] {
  return evalBatches(seqs, batchSize).slice(0, maxBatches);
}
