import type { Backend, HostTensor } from '@lowrank/core';
import { evalBatches, type LanguageModel, type TrainSequence } from '@lowrank/models';
import { lmLossBuilder } from '../cli/runtime/lm-graph.js';

/** Token-weighted mean held-out loss of `model` (as currently adapted) with the given parameter values. */
export async function heldOutLoss(
  backend: Backend,
  model: LanguageModel,
  values: Readonly<Record<string, HostTensor>>,
  heldOut: readonly TrainSequence[],
  batchSize: number,
  seqLen: number,
): Promise<number> {
  const { graph, loss } = lmLossBuilder(model, batchSize, seqLen, () => undefined)({ training: false });
  graph.output('loss', loss);
  const exe = await backend.compile(graph, { outputs: ['loss'] });
  try {
    const needed = new Set(graph.params.keys());
    await exe.setParameters(Object.fromEntries(Object.entries(values).filter(([n]) => needed.has(n))));
    let weighted = 0;
    let tokens = 0;
    for (const b of evalBatches(heldOut, batchSize)) {
      if (b.tokens === 0) continue;
      weighted += Number((await exe.run(b.feeds)).loss.data[0]) * b.tokens;
      tokens += b.tokens;
    }
    return weighted / tokens;
  } finally {
    exe.dispose();
  }
}
