import type { BackendName } from '../command-options.js';
import { DatasetError } from '@lowrank/models';
import { createBackend } from '../runtime/backends.js';
import { heldOutBatches, sequencesFromFile } from '../runtime/dataset.js';
import { lmLossBuilder } from '../runtime/lm-graph.js';
import { loadModelWithAdapter } from '../runtime/model-with-adapter.js';

export interface EvalArgs {
  model: string;
  adapter?: string;
  data: string;
  batchSize: number;
  seqLen: number;
  layout: 'padding' | 'packing';
  /** Which tokens the loss counts: assistant turns / completions (the default), or all. */
  trainOn?: 'assistant' | 'all';
  backend: BackendName;
  json: boolean;
}

export interface EvalResult {
  readonly loss: number;
  readonly perplexity: number;
  readonly tokens: number;
}

/** `lowrank eval`: mean token cross-entropy and perplexity of the model (with adapter) on a file. */
export async function runEval(a: EvalArgs): Promise<EvalResult> {
  const { base, values } = await loadModelWithAdapter(a.model, a.adapter);
  const seqs = await sequencesFromFile(a.data, base.tokenizer, a);
  if (seqs.length === 0) throw new DatasetError(`${a.data} has no sequence with a token to predict at --seq-len ${a.seqLen}`);
  const backend = await createBackend(a.backend);
  try {
    const { graph, loss } = lmLossBuilder(base.model, a.batchSize, a.seqLen, () => undefined)({ training: false });
    graph.output('loss', loss);
    const exe = await backend.compile(graph, { outputs: ['loss'] });
    await exe.setParameters(values);
    let weighted = 0;
    let tokens = 0;
    for (const b of heldOutBatches(seqs, a.batchSize)) {
      if (b.tokens === 0) continue;
      const out = await exe.run(b.feeds);
      weighted += Number(out.loss.data[0]) * b.tokens;
      tokens += b.tokens;
    }
    exe.dispose();
    const mean = weighted / tokens;
    return { loss: mean, perplexity: Math.exp(mean), tokens };
  } finally {
    backend.dispose();
  }
}
