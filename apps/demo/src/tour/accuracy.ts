// Exact-match accuracy with greedy decoding: the model answers every held-out prompt, batched, and the
// decoded answer must equal the expected one exactly.
//
// Decoding runs the full causal forward over right-padded rows, one new token per run (no KV cache): the
// same graph serves every method, including those whose adapters take per-run feeds (DyLoRA's rank,
// AdaLoRA's masks), and padding after a row's last token cannot change its logits.
import { Graph, type Backend, type Executable, type HostTensor } from '@lowrank/core';
import { INPUT_IDS, type LanguageModel, type TextTokenizer } from '@lowrank/models';
import type { TaskExample } from './task.js';

export interface Answer {
  readonly prompt: string;
  readonly expected: string;
  /** What the model generated (decoded, special tokens dropped). */
  readonly answer: string;
  readonly correct: boolean;
}

export interface ExactMatch {
  readonly correct: number;
  readonly total: number;
  readonly answers: readonly Answer[];
  /** Tokens each answer could take (the longest expected answer + 1, so a right answer must also stop). */
  readonly maxNewTokens: number;
}

export const accuracyOf = (m: ExactMatch) => m.correct / m.total;

/** A compiled [batch, length] forward of one adapted model, fed different parameter values in turn. */
export class GreedyDecoder {
  private constructor(
    private readonly exe: Executable,
    private readonly needed: ReadonlySet<string>,
    private readonly tok: TextTokenizer,
    readonly batchSize: number,
    readonly length: number,
  ) {}

  /** Traces `model` as it is adapted now (call its setTraining(false) first). */
  static async create(backend: Backend, model: LanguageModel, tok: TextTokenizer, batchSize: number, length: number): Promise<GreedyDecoder> {
    const graph = new Graph();
    const { logits } = model.forward({ inputIds: graph.input(INPUT_IDS, [batchSize, length], 'i32') });
    graph.output('logits', logits);
    const exe = await backend.compile(graph, { outputs: ['logits'] });
    return new GreedyDecoder(exe, new Set(graph.params.keys()), tok, batchSize, length);
  }

  async setParameters(values: Readonly<Record<string, HostTensor>>): Promise<void> {
    await this.exe.setParameters(Object.fromEntries(Object.entries(values).filter(([n]) => this.needed.has(n))));
  }

  /**
   * Greedy continuations of the prompts (each already starting with BOS), up to `maxNewTokens` or the stop
   * token (not included). `feeds` are extra graph inputs (adapter rank masks).
   */
  async generate(prompts: readonly (readonly number[])[], maxNewTokens: number, feeds: Readonly<Record<string, HostTensor>> = {}): Promise<number[][]> {
    const { batchSize: B, length: L } = this;
    const eos = this.tok.eosId;
    const results: number[][] = [];
    for (let start = 0; start < prompts.length; start += B) {
      const rows = prompts.slice(start, start + B).map((p) => [...p]);
      const out = rows.map(() => [] as number[]);
      const done = rows.map(() => false);
      for (let step = 0; step < maxNewTokens && done.some((d) => !d); step++) {
        const ids = new Int32Array(B * L).fill(this.tok.padId ?? 0);
        rows.forEach((r, i) => {
          if (r.length > L) throw new RangeError(`prompt of ${r.length} tokens does not fit the decoder's ${L} positions`);
          ids.set(r, i * L);
        });
        const logits = (await this.exe.run({ ...feeds, [INPUT_IDS]: { shape: [B, L], dtype: 'i32', data: ids } })).logits;
        const V = logits.shape[logits.shape.length - 1];
        const data = logits.data as Float32Array;
        rows.forEach((r, i) => {
          if (done[i]) return;
          const next = argmax(data, (i * L + r.length - 1) * V, V);
          if (next === eos || r.length >= L) done[i] = true;
          else {
            out[i].push(next);
            r.push(next);
          }
        });
      }
      results.push(...out);
    }
    return results;
  }

  /** Answers every example's prompt and compares the decoded answer with the expected one. */
  async exactMatch(examples: readonly TaskExample[], feeds: Readonly<Record<string, HostTensor>> = {}): Promise<ExactMatch> {
    const prompts = examples.map((e) => this.tok.encode(e.prompt, { addSpecialTokens: true }));
    // One token more than the longest expected answer: a correct answer must also stop there.
    const longest = Math.max(...examples.map((e) => this.tok.encode(e.answer, { addSpecialTokens: false }).length));
    const maxNewTokens = longest + 1;
    const generated = await this.generate(prompts, maxNewTokens, feeds);
    const answers = examples.map((e, i) => {
      // The tokenizer library refuses to decode no tokens (the model stopped at once): that answer is empty.
      const answer = generated[i].length ? this.tok.decode(generated[i], { skipSpecialTokens: true }) : '';
      return { prompt: e.prompt, expected: e.answer, answer, correct: answer === e.answer };
    });
    return { correct: answers.filter((a) => a.correct).length, total: answers.length, answers, maxNewTokens };
  }

  dispose(): void {
    this.exe.dispose();
  }
}

export function argmax(data: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let v = 1; v < n; v++) if (data[offset + v] > data[offset + best]) best = v;
  return best;
}
