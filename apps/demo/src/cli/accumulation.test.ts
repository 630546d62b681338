import { describe, expect, it } from 'vitest';
import { createReferenceBackend, Trainer } from '@lowrank/core';
import { ShuffledBatchStream } from '@lowrank/models';
import { adaptModel } from './runtime/adapters.js';
import { loadBaseModel } from './runtime/base-model.js';
import { sequencesFromFile } from './runtime/dataset.js';
import { lmLossBuilder } from './runtime/lm-graph.js';
import { tempDir, writeRepeatTask } from './test-support.js';

describe('gradient accumulation on llama-tiny with LoRA (float64 reference backend)', () => {
  it('2 micro-batches of 2 give the gradient and update of one batch of 4', async () => {
    const data = writeRepeatTask(tempDir('accum'), 12);
    const run = async (batch: number, k: number) => {
      const base = await loadBaseModel('llama-tiny');
      const adapted = await adaptModel(base, { variant: 'lora', r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'], seed: 1 });
      // non-zero B so that A gets gradient too
      for (const n of adapted.trainable) if (n.endsWith('lora_B.weight')) adapted.values[n] = { ...adapted.values[n], data: Float32Array.from(adapted.values[n].data, (_, i) => Math.sin(i) * 0.05) };
      const seqs = await sequencesFromFile(data, base.tokenizer, { seqLen: 16, layout: 'padding' });
      const trainer = await Trainer.create({
        backend: createReferenceBackend(),
        build: lmLossBuilder(base.model, batch, 16, adapted.setTraining),
        parameters: adapted.values,
        optimizer: { kind: 'sgd', lr: 1 }, // the update is the gradient itself
        steps: 1,
        accumulationSteps: k,
        data: new ShuffledBatchStream(seqs, batch, 4),
        exposeGradients: true,
      });
      const m = await trainer.trainStep();
      return { m, values: await trainer.trainableValues(), names: adapted.trainable };
    };
    const whole = await run(4, 1);
    const micro = await run(2, 2);
    expect(micro.m.tokens).toBe(whole.m.tokens);
    expect(Math.abs(micro.m.loss - whole.m.loss)).toBeLessThan(1e-12);
    expect(Math.abs(micro.m.gradNorm - whole.m.gradNorm) / whole.m.gradNorm).toBeLessThan(1e-12);
    for (const n of whole.names) {
      const a = Array.from(whole.values[n].data);
      const b = Array.from(micro.values[n].data);
      a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-12));
    }
  });
});
