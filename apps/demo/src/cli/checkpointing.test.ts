import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createReferenceBackend, Trainer, type CheckpointPolicy } from '@lowrank/core';
import { ShuffledBatchStream } from '@lowrank/models';
import { adaptModel } from './runtime/adapters.js';
import { loadBaseModel } from './runtime/base-model.js';
import { sequencesFromFile } from './runtime/dataset.js';
import { lmLossBuilder } from './runtime/lm-graph.js';
import { jsonEvents, runCli, tempDir, writeRepeatTask } from './test-support.js';

describe('--checkpointing changes memory, not results (float64 reference backend)', () => {
  const dir = tempDir('ckpt');
  const data = writeRepeatTask(dir, 24);

  it('gives identical losses and weights under every policy, with less planned activation memory', async () => {
    const run = async (policy: CheckpointPolicy) => {
      const base = await loadBaseModel('llama-tiny');
      const adapted = await adaptModel(base, { variant: 'lora', r: 4, alpha: 8, dropout: 0.1, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 2 });
      const seqs = await sequencesFromFile(data, base.tokenizer, { seqLen: 16, layout: 'padding' });
      const trainer = await Trainer.create({
        backend: createReferenceBackend(),
        build: lmLossBuilder(base.model, 2, 16, adapted.setTraining),
        parameters: adapted.values,
        optimizer: { kind: 'adamw', lr: 0.01 },
        steps: 3,
        seed: 5,
        data: new ShuffledBatchStream(seqs, 2, 4),
        checkpointing: policy,
      });
      const losses: number[] = [];
      trainer.subscribe((m) => m.type === 'step' && losses.push(m.loss));
      await trainer.run();
      const values = await trainer.trainableValues();
      return { losses, values: Object.fromEntries(Object.entries(values).map(([n, t]) => [n, Array.from(t.data)])), plan: trainer.memoryPlan, report: trainer.checkpointReport };
    };
    const none = await run('none');
    expect(none.report.recomputedOps).toBe(0);
    const sqrt = await run('sqrt');
    expect(sqrt.report.recomputedOps).toBeGreaterThan(0);
    expect(sqrt.plan.atPeak.activations).toBeLessThan(none.plan.atPeak.activations);
    // a budget below keep-everything forces the binomial planner to recompute
    const budget = await run({ budgetBytes: sqrt.plan.plannedPeakBytes });
    expect(budget.report.recomputedOps).toBeGreaterThan(0);
    expect(budget.plan.plannedPeakBytes).toBeLessThanOrEqual(sqrt.plan.plannedPeakBytes);
    for (const other of [sqrt, budget, await run('every:2'), await run('save-matmuls')]) {
      expect(other.losses).toEqual(none.losses);
      expect(other.values).toEqual(none.values);
    }
    console.log(`llama-tiny LoRA step, batch 2 x 16: planned peak none ${none.plan.plannedPeakBytes} B, sqrt ${sqrt.plan.plannedPeakBytes} B (${sqrt.report.recomputedOps} ops recomputed)`);
  });

  it('the CLI flag reaches the trainer: same losses, fewer planned bytes', async () => {
    const losses = async (policy: string) => {
      const r = await runCli(['train', '--model', 'llama-tiny', '--data', data, '--out', join(dir, policy.replace(':', '-')), '--backend', 'reference', '--steps', '2', '--batch-size', '2', '--seq-len', '16', '--checkpointing', policy, '--max-eval-batches', '1', '--json']);
      expect(r.stderr).toBe('');
      const events = jsonEvents(r.stdout);
      const planned = events.find((e) => e.event === 'note' && typeof e.plannedPeakBytes === 'number')!.plannedPeakBytes as number;
      return { losses: events.filter((e) => e.event === 'step').map((e) => e.loss), planned };
    };
    const [a, b] = [await losses('none'), await losses('every:1')];
    expect(b.losses).toEqual(a.losses);
    expect(b.planned).toBeLessThan(a.planned);
  });
});
