import { describe, expect, it } from 'vitest';
import { evaluate, NDArray, type Graph, type HostTensor } from '@lowrank/core';
import { BENCH_MODEL } from '../config.js';
import { makeBenchBatch, makeBenchWeights } from '../weights.js';
import { buildLlamaForward } from './llama-graph.js';
import { buildPackagedForward, toHfLabels } from './packaged-model.js';
import { parameterValues } from './parameter-values.js';

const tiny = { ...BENCH_MODEL, vocabSize: 24, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 20, seqLen: 5, batchSize: 2, loraRank: 2 };

function lossOf(graph: Graph, loss: string, values: Record<string, HostTensor>, labels: Int32Array, ids: Int32Array): number {
  const feeds: Record<string, NDArray> = {};
  for (const [k, v] of Object.entries(values)) feeds[k] = NDArray.from([...v.shape], v.data as Float32Array, v.dtype);
  feeds.input_ids = NDArray.from([tiny.batchSize, tiny.seqLen], ids, 'i32');
  feeds.labels = NDArray.from([tiny.batchSize, tiny.seqLen], labels, 'i32');
  return evaluate(graph, feeds, [loss]).get(loss)!.data[0];
}

describe('the bench graph and the models + variants graph', () => {
  for (const variant of ['lora', 'dora'] as const) {
    it(`compute the same ${variant} loss on the same weights (float64 reference)`, () => {
      const tensors = new Map([...makeBenchWeights(tiny, 7), ...makeBenchBatch(tiny, 7)].map((t) => [t.name, t]));
      const ids = tensors.get('input_ids')!.data as Int32Array;
      const labels = tensors.get('labels')!.data as Int32Array;
      const ours = buildLlamaForward(tiny, { variant });
      ours.graph.output('loss', ours.loss);
      const theirs = buildPackagedForward(tiny, variant);
      theirs.graph.output('loss', theirs.loss);
      expect([...theirs.graph.params.keys()].sort()).toEqual([...ours.graph.params.keys()].sort());
      const opts = { variant, doubleQuant: false };
      const a = lossOf(ours.graph, 'loss', parameterValues(tiny, ours.graph, tensors, opts).values, labels, ids);
      const b = lossOf(theirs.graph, 'loss', parameterValues(tiny, theirs.graph, tensors, opts).values, toHfLabels(labels, tiny.batchSize, tiny.seqLen), ids);
      expect(a).toBeGreaterThan(2); // about ln(24): not a degenerate graph
      expect(Math.abs(a - b) / a).toBeLessThan(1e-12);
    });
  }
});
