import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { evaluate, gradTrainable, NDArray } from '@lowrank/core';
import { BENCH_MODEL } from '../config.js';
import { PYTHON, TORCH_ENV, TORCH_PEER } from '../harness/participants.js';
import { Worker } from '../harness/worker.js';
import { buildLlamaForward } from '../lowrank/llama-graph.js';
import { readSafetensors, writeSafetensors } from '../safetensors-file.js';
import { makeBenchBatch, makeBenchWeights } from '../weights.js';
import { TfjsLlamaLora } from './tfjs-llama.js';

const tiny = { ...BENCH_MODEL, vocabSize: 24, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 20, seqLen: 6, batchSize: 2, loraRank: 2 };
const dir = mkdtempSync(join(tmpdir(), 'bench-peers-'));
const file = join(dir, 'tiny.safetensors');
writeSafetensors(file, [...makeBenchWeights(tiny, 11), ...makeBenchBatch(tiny, 11)]);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The oracle: the bench's core graph on core's float64 evaluator. */
function coreReference(): { loss: number; gradNorm: number } {
  const { graph, loss } = buildLlamaForward(tiny, { variant: 'lora' });
  graph.output('loss', loss);
  const grads = gradTrainable(loss);
  for (const [n, g] of grads) graph.output(`grad.${n}`, g);
  const feeds: Record<string, NDArray> = {};
  for (const [name, t] of readSafetensors(file)) feeds[name] = NDArray.from([...t.shape], t.data, t.dtype === 'F32' ? 'f32' : 'i32');
  const out = evaluate(graph, feeds);
  let sq = 0;
  for (const n of grads.keys()) for (const v of out.get(`grad.${n}`)!.data) sq += v * v;
  return { loss: out.get('loss')!.data[0], gradNorm: Math.sqrt(sq) };
}
const reference = coreReference();

describe('the peers compute the bench model as core does (tiny config)', () => {
  it('TensorFlow.js (tfjs-backend-cpu): loss and LoRA gradient norm within float32 tolerance', async () => {
    await tf.setBackend('cpu');
    const model = new TfjsLlamaLora(tiny, readSafetensors(file));
    const first = await model.step(true);
    expect(reference.loss).toBeGreaterThan(2); // ~ln(24): a real loss, not a degenerate one
    expect(Math.abs(first.loss - reference.loss) / reference.loss).toBeLessThan(1e-5);
    expect(Math.abs(first.gradNorm! - reference.gradNorm) / reference.gradNorm).toBeLessThan(1e-4);
    const second = await model.step();
    expect(second.loss).toBeLessThan(first.loss); // the AdamW step moved the adapter downhill
  });

  const torchMissing = !existsSync(PYTHON) || !existsSync('/usr/lib/python3/dist-packages/torch');
  if (torchMissing) console.warn('skipping the PyTorch peer test: Debian python3-torch is not installed (run bench/setup.sh)');
  it.skipIf(torchMissing)('PyTorch in float64: the same loss to 1e-10 and gradient norm to 1e-7', async () => {
    const w = new Worker('torch', PYTHON, [TORCH_PEER], TORCH_ENV);
    try {
      const r = await w.request({ cmd: 'reference', weights: file, config: tiny, variant: 'lora' });
      expect(Math.abs((r.loss as number) - reference.loss) / reference.loss).toBeLessThan(1e-10);
      // Measured 4e-9: float64 both sides, but the two differentiate through different op sequences.
      expect(Math.abs((r.gradNorm as number) - reference.gradNorm) / reference.gradNorm).toBeLessThan(1e-7);
    } finally {
      await w.close();
    }
  });
});
