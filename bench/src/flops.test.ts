import { describe, expect, it } from 'vitest';
import { getOp, gradTrainable, opFlops, schedule } from '@lowrank/core';
import { BENCH_MODEL, baseParameterCount } from './config.js';
import { loraStepFlops } from './flops.js';
import { buildLlamaForward } from './lowrank/llama-graph.js';

const tiny = { ...BENCH_MODEL, vocabSize: 10, hiddenSize: 8, numLayers: 2, numHeads: 2, intermediateSize: 6, seqLen: 3, batchSize: 2, loraRank: 2 };

describe('model FLOPs of a LoRA step', () => {
  it('equal the MatMul work core counts in the differentiated graph, plus the attention forward', () => {
    // Core's own per-op counts on the real training graph are an independent tally:
    // every matmul it schedules (forward, backward, attention VJPs), minus the rope
    // table's outer product (not model work), plus the fused attention forward products.
    const { graph, loss } = buildLlamaForward(tiny, { variant: 'lora' });
    graph.output('loss', loss);
    for (const [n, g] of gradTrainable(loss)) graph.output(`grad.${n}`, g);
    let matmul = 0;
    for (const id of schedule(graph, [...graph.outputs.values()])) {
      const n = graph.node(id);
      if (n.op !== 'matmul') continue;
      const isRopeTable = graph.node(n.inputs[0]).shape[1] === 1;
      if (!isRopeTable) matmul += opFlops(getOp(n.op), n.inputs.map((i) => graph.node(i)), n, n.attrs);
    }
    const hd = tiny.hiddenSize / tiny.numHeads;
    const attentionForward = tiny.numLayers * 2 * (2 * tiny.batchSize * tiny.numHeads * tiny.seqLen * tiny.seqLen * hd);
    expect(loraStepFlops(tiny).total).toBe(matmul + attentionForward);
  });

  it('are about four times base parameters × tokens for the bench model (frozen weights: no weight gradients)', () => {
    const f = loraStepFlops(BENCH_MODEL);
    const tokens = BENCH_MODEL.batchSize * BENCH_MODEL.seqLen;
    const perParamToken = f.total / (baseParameterCount(BENCH_MODEL) * tokens);
    expect(perParamToken).toBeGreaterThan(3.5);
    expect(perParamToken).toBeLessThan(4.5);
    expect(f.backward).toBeGreaterThan(f.forward * 0.9);
  });
});
