// Exact-match accuracy with greedy decoding: the model answers every held-out prompt, batched, and the
// decoded answer must equal the expected one exactly.
//
// Decoding is the library's Generator (KV cache, left-padded batches) on whatever backend the run uses:
// the terminal tour on ONNX Runtime (the cache fed from the host) and the web page on WebGPU (the cache
// held on the device between steps), so both answer through one path. Weights are frozen into the step
// graphs, so each set of parameter values gets its own generator.
import { LowrankError, type Backend, type HostTensor } from '@lowrank/core';
import { Generator, type CacheResidency, type LanguageModel, type TextTokenizer } from '@lowrank/models';
import type { TaskExample } from './task.js';

export interface Answer {
  readonly prompt: string;
  readonly expected: string;
  /** What the model generated (decoded, special tokens dropped). */
  readonly answer: string;
  readonly correct: boolean;
}

/** How the answers were generated: enough to tell the resident-cache path from the host one, and its speed. */
export interface GenerationSummary {
  /** Where the KV cache lived between steps ('backend': executable state, on the device for WebGPU). */
  readonly residency: CacheResidency;
  /** Decode executables the generator compiled (one per batch size and cache length bucket). */
  readonly decodeGraphs: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
  /** Decode runs over all batches (each advances every row of its batch by one token). */
  readonly decodeSteps: number;
  /** Rows advanced per second of decoding (batch rows × decode runs / decode time). */
  readonly decodeTokensPerSecond: number;
}

export interface ExactMatch {
  readonly correct: number;
  readonly total: number;
  readonly answers: readonly Answer[];
  /** Tokens each answer could take (at least the longest expected answer + 1, so a right answer must also stop). */
  readonly maxNewTokens: number;
  /** Each prompt's token ids (BOS first), as generated from. */
  readonly promptIds: readonly (readonly number[])[];
  /** Each prompt's greedy continuation, token ids, ending with the stop token when the row stopped. */
  readonly generatedIds: readonly (readonly number[])[];
  readonly generation: GenerationSummary;
}

/** A request for answers that cannot be met (no examples, too few new tokens). */
export class AnswerRequestError extends LowrankError {}

export const accuracyOf = (m: ExactMatch) => m.correct / m.total;

export interface GreedyAnswersRequest {
  readonly backend: Backend;
  /** The model as adapted now (its adapters set to evaluation mode). */
  readonly model: LanguageModel;
  readonly tokenizer: TextTokenizer;
  /** Every parameter the model reads: base weights and adapters. */
  readonly values: ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>;
  readonly examples: readonly TaskExample[];
  /** Prompts per generated batch. */
  readonly batchSize: number;
  /** Extra graph inputs of the adapters (DyLoRA's rank mask). */
  readonly feeds?: Readonly<Record<string, HostTensor>>;
  /** Where the cache lives (default: the Generator's, which is 'backend' on WebGPU). */
  readonly residency?: CacheResidency;
  /**
   * New tokens per prompt (default and minimum: the longest expected answer + 1). More lets a wrong answer run
   * on in the shown text; the score is the same, as a right answer has stopped by then.
   */
  readonly maxNewTokens?: number;
}

/** Greedy answers to every example's prompt, scored by exact match. */
export async function greedyExactMatch(r: GreedyAnswersRequest): Promise<ExactMatch> {
  const { tokenizer: tok, examples } = r;
  if (examples.length === 0) throw new AnswerRequestError('no examples to answer; pass at least one held-out example');
  const eos = tok.eosId;
  const promptIds = examples.map((e) => tok.encode(e.prompt, { addSpecialTokens: true }));
  // One token more than the longest expected answer: a correct answer must also stop there.
  const least = Math.max(...examples.map((e) => tok.encode(e.answer, { addSpecialTokens: false }).length)) + 1;
  if (r.maxNewTokens !== undefined && !(Number.isInteger(r.maxNewTokens) && r.maxNewTokens >= least)) {
    throw new AnswerRequestError(`maxNewTokens must be an integer of at least ${least} (the longest expected answer + 1, its stop token), got ${r.maxNewTokens}`);
  }
  const maxNewTokens = r.maxNewTokens ?? least;
  const maxLength = Math.max(...promptIds.map((p) => p.length)) + maxNewTokens;
  const batch = Math.min(r.batchSize, examples.length);
  const weights = r.values instanceof Map ? r.values : new Map(Object.entries(r.values));
  const gen = await Generator.create(r.model, weights, {
    backend: r.backend,
    maxLength,
    warmBatch: batch,
    ...(r.residency ? { residency: r.residency } : {}),
  });
  try {
    const generatedIds: number[][] = [];
    let prefillMs = 0;
    let decodeMs = 0;
    let decodeSteps = 0;
    let rowSteps = 0;
    for (let start = 0; start < promptIds.length; start += batch) {
      const rows = promptIds.slice(start, start + batch);
      const out = await gen.generateBatch(rows, { maxNewTokens, ...(typeof eos === 'number' ? { stopTokens: [eos] } : {}), ...(r.feeds ? { feeds: r.feeds } : {}) });
      generatedIds.push(...out.map((o) => o.tokens));
      prefillMs += gen.lastTiming.prefillMs;
      decodeMs += gen.lastTiming.decodeMs;
      decodeSteps += gen.lastTiming.decodeSteps;
      rowSteps += rows.length * gen.lastTiming.decodeSteps;
    }
    const answers = examples.map((e, i) => {
      const ids = generatedIds[i].filter((t) => t !== eos);
      // The tokenizer library refuses to decode no tokens (the model stopped at once): that answer is empty.
      const answer = ids.length ? tok.decode(ids, { skipSpecialTokens: true }) : '';
      return { prompt: e.prompt, expected: e.answer, answer, correct: answer === e.answer };
    });
    const generation: GenerationSummary = {
      residency: gen.residency,
      decodeGraphs: gen.decodeGraphs,
      prefillMs,
      decodeMs,
      decodeSteps,
      decodeTokensPerSecond: decodeMs > 0 ? (1000 * rowSteps) / decodeMs : 0,
    };
    return { correct: answers.filter((a) => a.correct).length, total: answers.length, answers, maxNewTokens, promptIds, generatedIds, generation };
  } finally {
    gen.dispose();
  }
}
