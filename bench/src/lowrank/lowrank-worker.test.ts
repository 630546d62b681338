import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluate, NDArray } from '@lowrank/core';
import { BENCH_MODEL } from '../config.js';
import { LOWRANK_WORKER } from '../harness/participants.js';
import { Worker } from '../harness/worker.js';
import { readSafetensors, writeSafetensors } from '../safetensors-file.js';
import { makeBenchBatch, makeBenchWeights } from '../weights.js';
import { buildLlamaForward } from './llama-graph.js';

const tiny = { ...BENCH_MODEL, vocabSize: 24, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 20, seqLen: 6, batchSize: 2, loraRank: 2 };
const dir = mkdtempSync(join(tmpdir(), 'bench-lowrank-'));
const file = join(dir, 'tiny.safetensors');
writeSafetensors(file, [...makeBenchWeights(tiny, 5), ...makeBenchBatch(tiny, 5)]);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the lowrank participant over the harness protocol', () => {
  it('trains the tiny model on backend-cpu: first loss as the float64 graph, then timed steps and memory', async () => {
    const { graph, loss } = buildLlamaForward(tiny, { variant: 'lora' });
    graph.output('loss', loss);
    const feeds: Record<string, NDArray> = {};
    for (const [name, t] of readSafetensors(file)) feeds[name] = NDArray.from([...t.shape], t.data, t.dtype === 'F32' ? 'f32' : 'i32');
    const want = evaluate(graph, feeds).get('loss')!.data[0];

    const w = new Worker('lowrank', process.execPath, LOWRANK_WORKER, { LOWRANK_THREADS: '1' });
    try {
      const init = await w.request({ cmd: 'init', weights: file, config: tiny, variant: 'lora', policy: 'sqrt', initSteps: 2 });
      expect(Math.abs((init.loss as number) - want) / want).toBeLessThan(1e-5);
      expect(init.lossAfterStep as number).toBeLessThan(init.loss as number);
      expect((init.planned as { recomputedSegments: number }).recomputedSegments).toBeGreaterThan(0);
      const timed = await w.request({ cmd: 'time', steps: 2 });
      expect((timed.times as number[]).length).toBe(2);
      expect((timed.losses as number[])[1]).toBeLessThan(init.lossAfterStep as number);
      const memory = await w.request({ cmd: 'memory' });
      expect(memory.maxRssBytes as number).toBeGreaterThan(10 * 2 ** 20);
      await expect(w.request({ cmd: 'nonsense' })).rejects.toThrow(/unknown command 'nonsense'/);
    } finally {
      await w.close();
    }
  });
});
