import { existsSync, statSync } from 'node:fs';
import {
  DatasetError,
  evalBatches,
  readDatasetFile,
  ShuffledBatchStream,
  tokenizeExamples,
  toSequences,
  trainValidationSplit,
  type SequenceLayout,
  type TextTokenizer,
  type TrainOn,
  type TrainSequence,
} from '@lowrank/models';
import type { TrainBatch } from '@lowrank/core';
import { exampleReportNote, instructionTokenizer } from './chat-data.js';

export interface DataOptions {
  readonly seqLen: number;
  readonly layout: SequenceLayout;
  /** Which tokens carry the loss (default assistant: assistant turns and completions). */
  readonly trainOn?: TrainOn;
}

type Note = { text: string; fields: Record<string, unknown> };

/** A file's rows (conversations through the chat template), tokenized and laid out as fixed-length sequences, with a note for the user. */
export async function readSequences(file: string, tok: TextTokenizer, opts: DataOptions): Promise<{ sequences: TrainSequence[]; note: Note | null }> {
  if (!existsSync(file) || !statSync(file).isFile()) throw new DatasetError(`data file ${file} does not exist or is not a file; check the path given to --data / --validation-data`);
  const rows = await readDatasetFile(file);
  const trainOn = opts.trainOn ?? 'assistant';
  const { examples, report } = tokenizeExamples(rows, instructionTokenizer(tok), { trainOn, file });
  const { sequences } = toSequences(examples, { seqLen: opts.seqLen, layout: opts.layout, padTokenId: tok.padId ?? tok.eosId ?? 0 });
  const note = exampleReportNote(report, file, trainOn);
  if (sequences.length === 0 && note) throw new DatasetError(`${note.text}; nothing is left to train on`);
  return { sequences, note };
}

export async function sequencesFromFile(file: string, tok: TextTokenizer, opts: DataOptions): Promise<TrainSequence[]> {
  return (await readSequences(file, tok, opts)).sequences;
}

export interface TrainData {
  readonly stream: ShuffledBatchStream;
  readonly validation: readonly TrainSequence[];
  readonly trainSequences: number;
  /** What the user should hear about the files (conversations left out). */
  readonly notes: readonly Note[];
}

/** Training stream and held-out set: a separate file, or a seeded split of the training file. */
export async function prepareTrainData(
  opts: DataOptions & { data: string; validationData?: string; validationFraction: number; batchSize: number; seed: number },
  tok: TextTokenizer,
): Promise<TrainData> {
  const main = await readSequences(opts.data, tok, opts);
  const notes = main.note ? [main.note] : [];
  let train = main.sequences;
  let validation: TrainSequence[];
  if (opts.validationData) {
    const held = await readSequences(opts.validationData, tok, opts);
    validation = held.sequences;
    if (held.note) notes.push(held.note);
  } else ({ train, validation } = trainValidationSplit(main.sequences, opts.validationFraction, opts.seed));
  return { stream: new ShuffledBatchStream(train, opts.batchSize, opts.seed), validation, trainSequences: train.length, notes };
}

export function heldOutBatches(seqs: readonly TrainSequence[], batchSize: number, maxBatches = Infinity): TrainBatch[] {
  return evalBatches(seqs, batchSize).slice(0, maxBatches);
}
