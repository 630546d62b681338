// Test support for the web page test: the page's greedy answers recomputed in Node (ONNX Runtime on the
// CPU, the KV cache fed from the host), and, where a row differs, how close Node's top two logits were at
// the first differing step (f32 on two backends may order an exact or near tie differently).
import { createCpuBackend } from '@lowrank/backend-cpu';
import { Graph, type Backend, type HostTensor } from '@lowrank/core';
import { INPUT_IDS, type LanguageModel } from '@lowrank/models';
import { loadBaseModel } from '../cli/runtime/base-model.js';
import { loadModelWithAdapter } from '../cli/runtime/model-with-adapter.js';
import { greedyExactMatch, type ExactMatch } from '../tour/accuracy.js';
import type { TaskExample } from '../tour/task.js';

/** What Node generated, and the model and values it generated with (for the margin check). */
export interface NodeAnswers {
  readonly match: ExactMatch;
  readonly model: LanguageModel;
  readonly values: ReadonlyMap<string, HostTensor>;
}

/**
 * Greedy answers of the base model in `baseDir`, with the PEFT adapter directory `adapterDir` applied
 * when given, to `examples`, batched and as long as the page generates them.
 */
export async function nodeAnswers(
  backend: Backend,
  baseDir: string,
  adapterDir: string | undefined,
  examples: readonly TaskExample[],
  generation: { batchSize: number; maxNewTokens: number },
): Promise<NodeAnswers> {
  const base = await loadBaseModel(baseDir);
  let model = base.model;
  let values: ReadonlyMap<string, HostTensor> = base.weights;
  if (adapterDir) {
    const adapted = await loadModelWithAdapter(baseDir, adapterDir);
    model = adapted.base.model;
    values = new Map(Object.entries(adapted.values));
  }
  const match = await greedyExactMatch({ backend, model, tokenizer: base.tokenizer, values, examples, ...generation });
  return { match, model, values };
}

/** Node's two largest next-token logits after `ids` (a full causal forward, no cache). */
export async function topTwoLogits(backend: Backend, model: LanguageModel, values: ReadonlyMap<string, HostTensor>, ids: readonly number[]): Promise<{ best: number; bestLogit: number; second: number; secondLogit: number }> {
  const g = new Graph();
  g.output('logits', model.forward({ inputIds: g.input(INPUT_IDS, [1, ids.length], 'i32') }).logits);
  const exe = await backend.compile(g, { outputs: ['logits'] });
  try {
    await exe.setParameters(Object.fromEntries([...g.params.keys()].map((n) => [n, values.get(n)!])));
    const logits = (await exe.run({ [INPUT_IDS]: { shape: [1, ids.length], dtype: 'i32', data: Int32Array.from(ids) } })).logits;
    const V = logits.shape[2];
    const row = (logits.data as Float32Array).subarray((ids.length - 1) * V, ids.length * V);
    let best = 0;
    let second = -1;
    for (let v = 1; v < V; v++) {
      if (row[v] > row[best]) [second, best] = [best, v];
      else if (second < 0 || row[v] > row[second]) second = v;
    }
    if (second < 0) second = best === 0 ? 1 : 0;
    return { best, bestLogit: row[best], second, secondLogit: row[second] };
  } finally {
    exe.dispose();
  }
}

/** One row where the page and Node generated different tokens, with Node's margin at the first difference. */
export interface TokenMismatch {
  readonly row: number;
  readonly step: number;
  readonly page: number;
  readonly node: number;
  /** Node's best minus second-best logit at that step. */
  readonly margin: number;
  /** Whether the page's token is Node's runner-up there (what a near tie flipped by rounding looks like). */
  readonly pageIsRunnerUp: boolean;
}

/** Every row whose tokens differ, described at its first differing step. */
export async function tokenMismatches(node: NodeAnswers, pageIds: readonly (readonly number[])[]): Promise<TokenMismatch[]> {
  const out: TokenMismatch[] = [];
  const cpu = createCpuBackend();
  try {
    for (let row = 0; row < pageIds.length; row++) {
      const mine = node.match.generatedIds[row];
      const theirs = pageIds[row];
      let step = 0;
      while (step < mine.length && step < theirs.length && mine[step] === theirs[step]) step++;
      if (step === mine.length && step === theirs.length) continue;
      const prefix = [...node.match.promptIds[row], ...mine.slice(0, step)];
      const top = await topTwoLogits(cpu, node.model, node.values, prefix);
      out.push({ row, step, page: theirs[step] ?? -1, node: mine[step] ?? -1, margin: top.bestLogit - top.secondLogit, pageIsRunnerUp: theirs[step] === top.second });
    }
  } finally {
    cpu.dispose();
  }
  return out;
}
