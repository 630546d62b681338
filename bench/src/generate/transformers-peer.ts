import { AutoModelForCausalLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import type { GenerationParticipant } from './lowrank-generate.js';

type Generating = Omit<PreTrainedModel, 'generate'> & { generate(opts: Record<string, unknown>): Promise<Tensor> };

/** transformers.js on a local model folder (see hf-decoder-export.ts), CPU provider, offline. */
export async function loadTransformersJs(root: string, name: string, threads: number): Promise<Generating> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = root;
  return (await AutoModelForCausalLM.from_pretrained(name, {
    local_files_only: true,
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  })) as unknown as Generating;
}

/** Left-padded input_ids and attention_mask, as a transformers tokenizer with padding_side='left' gives them. */
function leftPadded(prompts: number[][]): { input_ids: Tensor; attention_mask: Tensor } {
  const n = Math.max(...prompts.map((p) => p.length));
  const ids = new BigInt64Array(prompts.length * n);
  const mask = new BigInt64Array(prompts.length * n);
  prompts.forEach((p, r) => {
    p.forEach((tok, j) => {
      ids[r * n + n - p.length + j] = BigInt(tok);
      mask[r * n + n - p.length + j] = 1n;
    });
  });
  return { input_ids: new Tensor('int64', ids, [prompts.length, n]), attention_mask: new Tensor('int64', mask, [prompts.length, n]) };
}

/** One greedy generate; a streamer timestamps each step (its first call carries the prompt, each later one a new token per row). */
async function greedy(model: Generating, prompts: number[][], newTokens: number): Promise<{ prefillMs: number; decodeMsPerStep: number; tokens: number[][] }> {
  const inputs = leftPadded(prompts);
  const stamps: number[] = [];
  const streamer = { put: () => void stamps.push(performance.now()), end: () => undefined };
  const t0 = performance.now();
  const out = await model.generate({ ...inputs, max_new_tokens: newTokens, min_new_tokens: newTokens, do_sample: false, streamer });
  const [rows, cols] = out.dims as number[];
  const data = out.data as BigInt64Array;
  const start = cols - newTokens;
  const tokens = Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * cols + start, (r + 1) * cols), Number));
  // stamps[1]: the first new token (the prefill forward); stamps[last]: the last decode step.
  return { prefillMs: stamps[1] - t0, decodeMsPerStep: (stamps[stamps.length - 1] - stamps[1]) / (newTokens - 1), tokens };
}

/**
 * transformers.js timed as lowrank is: prefill = until the first new token;
 * decode = the remaining N-1 steps (from per-token timestamps). Warmed up once.
 */
export async function transformersJsParticipant(model: Generating, prompts: number[][], newTokens: number): Promise<GenerationParticipant> {
  await greedy(model, prompts, 4);
  return {
    name: 'transformers.js',
    once: () => greedy(model, prompts, newTokens),
    dispose() {},
  };
}
