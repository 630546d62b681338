import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, grad, NDArray, type HostTensor } from '@lowrank/core';
import { seededRandom } from '@lowrank/models';
import { readRunCheckpoint, stepDirName } from './run-checkpoint.js';
import { adaptModel } from './runtime/adapters.js';
import { loadBaseModel } from './runtime/base-model.js';
import { prepareTrainData } from './runtime/dataset.js';
import { lmLossBuilder } from './runtime/lm-graph.js';
import { runCli, tempDir, writeRepeatTask } from './test-support.js';

const SPEC = { variant: 'lora' as const, r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'], seed: 0 };

describe('one SGD step from a given adapter (float64 reference backend)', () => {
  it('changes every A and B by exactly minus its gradient', async () => {
    const dir = tempDir('sgd');
    const data = writeRepeatTask(dir, 40);
    // A given adapter with B ≠ 0, so both A and B receive gradient.
    const start = await adaptModel(await loadBaseModel('llama-tiny'), SPEC);
    const rand = seededRandom(42);
    const given: Record<string, HostTensor> = {};
    for (const n of start.trainable) {
      const t = start.values[n];
      given[n] = { shape: t.shape, dtype: 'f32', data: Float32Array.from(t.data, () => (rand() - 0.5) * 0.2) };
    }
    const adapterDir = join(dir, 'given');
    await start.saveAdapter(adapterDir, given);

    const out = join(dir, 'out');
    const args = ['--batch-size', '4', '--seq-len', '16', '--seed', '9'];
    const r = await runCli(['train', '--model', 'llama-tiny', '--data', data, '--adapter', adapterDir, '--out', out, '--backend', 'reference', '--optimizer', 'sgd', '--lr', '1', '--schedule', 'constant', '--steps', '1', '--max-grad-norm', '0', '--max-eval-batches', '1', '--json', ...args]);
    expect(r.stderr).toBe('');
    const after = (await readRunCheckpoint(join(out, 'checkpoints', stepDirName(1)))).state.tensors;

    // The gradient, independently: the same first batch through a fresh graph and grad() on the float64 evaluator.
    const base = await loadBaseModel('llama-tiny');
    const adapted = await adaptModel(base, SPEC, adapterDir);
    const { stream } = await prepareTrainData({ data, validationFraction: 0.1, batchSize: 4, seed: 9, seqLen: 16, layout: 'padding' }, base.tokenizer);
    const batch = stream.next();
    const { graph, loss } = lmLossBuilder(base.model, 4, 16, adapted.setTraining)({ training: true });
    const grads = grad(loss, adapted.trainable.map((n) => graph.paramTensor(n)));
    adapted.trainable.forEach((n, i) => graph.output(`g:${n}`, grads[i]));
    const feeds: Record<string, NDArray> = {};
    for (const [n, t] of Object.entries({ ...adapted.values, ...batch.feeds })) feeds[n] = NDArray.fromHost(t.shape, t.dtype, t.data);
    const res = evaluate(graph, feeds);

    expect(adapted.trainable).toHaveLength(8);
    for (const n of adapted.trainable) {
      const g = res.get(`g:${n}`)!.data;
      expect(g.some((v) => Math.abs(v) > 1e-6)).toBe(true);
      const expected = Array.from(given[n].data, (p, i) => p - g[i]);
      expect(Array.from(after[n].data)).toEqual(expected);
    }
  });
});
