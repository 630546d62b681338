import { createCpuBackend } from '@lowrank/backend-cpu';
import type { Backend, HostTensor } from '@lowrank/core';
import { Generator, type LanguageModel, type TracedWeights } from '@lowrank/models';

/** One timed generation: prefill ms, decode ms per step (mean over the steps), the tokens. */
export interface GenerationSample {
  prefillMs: number;
  decodeMsPerStep: number;
  tokens: number[][];
}

/** Something that generates greedily for fixed prompts, one timed run per call. */
export interface GenerationParticipant {
  readonly name: string;
  once(): Promise<GenerationSample>;
  dispose(): void;
}

export interface GenerateFigures {
  batch: number;
  promptTokens: number;
  newTokensPerRow: number;
  /** Prompt tokens per second of the prefill (all rows), best run. */
  prefillTokensPerSecond: number;
  /** Generated tokens per second of the decode steps (all rows), best run. */
  decodeTokensPerSecond: number;
  decodeMsPerStep: number;
  tokens: number[][];
}

/** lowrank's resident-cache generator on backend-cpu (its own backend unless given one), warmed up. */
export async function lowrankParticipant(
  model: LanguageModel,
  weights: ReadonlyMap<string, HostTensor>,
  prompts: number[][],
  opts: { maxLength: number; newTokens: number; threads: number; backend?: Backend; folded?: TracedWeights },
): Promise<GenerationParticipant> {
  const backend = opts.backend ?? createCpuBackend({ threads: opts.threads });
  const gen = await Generator.create(model, weights, { backend, maxLength: opts.maxLength, prefillLength: 64, ...(opts.folded ? { folded: opts.folded } : {}) });
  await gen.generateBatch(prompts, { maxNewTokens: 4 });
  return {
    name: `lowrank (cache buckets ${gen.buckets.join(', ')})`,
    async once() {
      const res = await gen.generateBatch(prompts, { maxNewTokens: opts.newTokens });
      const t = gen.lastTiming;
      return { prefillMs: t.prefillMs, decodeMsPerStep: t.decodeMs / t.decodeSteps, tokens: res.map((r) => r.tokens) };
    },
    dispose() {
      gen.dispose();
      if (!opts.backend) backend.dispose();
    },
  };
}

/** Best prefill and best decode over the samples, as rates. */
export function figuresOf(samples: readonly GenerationSample[], prompts: number[][], newTokens: number): GenerateFigures {
  const promptTokens = prompts.reduce((s, p) => s + p.length, 0);
  const prefillMs = Math.min(...samples.map((s) => s.prefillMs));
  const decodeMsPerStep = Math.min(...samples.map((s) => s.decodeMsPerStep));
  return {
    batch: prompts.length,
    promptTokens,
    newTokensPerRow: newTokens,
    prefillTokensPerSecond: promptTokens / (prefillMs / 1000),
    decodeTokensPerSecond: prompts.length / (decodeMsPerStep / 1000),
    decodeMsPerStep,
    tokens: samples[samples.length - 1].tokens,
  };
}

/** Runs the participants in rounds, rotating their order so each sees the same load. */
export async function race(participants: readonly GenerationParticipant[], rounds: number): Promise<GenerationSample[][]> {
  const samples = participants.map(() => [] as GenerationSample[]);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < participants.length; i++) {
      const k = (i + r) % participants.length;
      samples[k].push(await participants[k].once());
    }
  }
  return samples;
}
