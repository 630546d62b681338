import type { BackendName } from '../command-options.js';
import { DatasetError } from '@lowrank/models';
import { LoadProgress, QUIET_BELOW_BYTES } from '../load-progress.js';
import { progressMode, type ProgressOutput } from '../progress.js';
import type { BaseDtypeName } from '../runtime/base-dtype.js';
import { createBackend } from '../runtime/backends.js';
import { openCommandModel } from '../runtime/command-model.js';
import { heldOutBatches, sequencesFromFile } from '../runtime/dataset.js';
import { lmLossBuilder } from '../runtime/lm-graph.js';
import { valuesWithAdapter } from '../runtime/model-with-adapter.js';

export interface EvalArgs {
  model: string;
  adapter?: string;
  data: string;
  /** Precision of the frozen base (default: the checkpoint's). */
  baseDtype?: BaseDtypeName;
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

/**
 * `lowrank eval`: mean token cross-entropy and perplexity of the model (with
 * adapter) on a file. The data is read and checked before any weight is;
 * load progress goes to `log` (stderr), keeping stdout for the result.
 */
export async function runEval(a: EvalArgs, log?: ProgressOutput): Promise<EvalResult> {
  const progress = log ? new LoadProgress(progressMode(a.json, log), log, { minFileBytes: QUIET_BELOW_BYTES }) : undefined;
  const { base, tokenizer, adaptOptions, meter } = await openCommandModel(a, progress);
  const seqs = await sequencesFromFile(a.data, tokenizer, a);
  if (seqs.length === 0) throw new DatasetError(`${a.data} has no sequence with a token to predict at --seq-len ${a.seqLen}`);
  const values = await valuesWithAdapter(base, a.adapter, adaptOptions);
  const backend = await createBackend(a.backend);
  try {
    const { graph, loss } = lmLossBuilder(base.model, a.batchSize, a.seqLen, () => undefined)({ training: false });
    graph.output('loss', loss);
    const exe = await backend.compile(graph, { outputs: ['loss'] });
    await exe.setParameters(values);
    progress?.loaded(meter);
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
    progress?.dispose();
    backend.dispose();
  }
}
