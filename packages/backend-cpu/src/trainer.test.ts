import { describe, expect, it } from 'vitest';
import { createReferenceBackend, Trainer, type Backend, type BatchStream, type HostTensor, type NDArray, type TrainBatch } from '@lowrank/core';
import { createCpuBackend } from './index.js';
import { buildLlamaLora } from '../test/llama-lora-graph.js';

const cfg = { blocks: 2, hidden: 16, heads: 2, intermediate: 24, vocab: 23, seq: 5, batch: 2, rank: 2, alpha: 4, segments: true, loraDropout: 0.2, forwardOnly: true };
const host = (a: NDArray): HostTensor => ({ shape: a.shape, dtype: a.dtype, data: a.toHost() });

/** Batch k is the builder's feeds for seed k + 10: deterministic, resumable. */
class SeededBatches implements BatchStream {
  private k = 0;
  next(): TrainBatch {
    const f = buildLlamaLora(cfg).feeds(10 + this.k++);
    const labels = f.labels.data;
    return { feeds: { input_ids: host(f.input_ids), labels: host(f.labels) }, tokens: labels.filter((l) => l !== -100).length };
  }
  position() {
    return this.k;
  }
  seek(p: unknown) {
    this.k = Number(p);
  }
}

async function train(backend: Backend): Promise<{ losses: number[]; values: Record<string, HostTensor> }> {
  const params = buildLlamaLora(cfg).values(1);
  const trainer = await Trainer.create({
    backend,
    build: () => {
      const m = buildLlamaLora(cfg);
      return { graph: m.graph, loss: m.loss };
    },
    parameters: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, host(v)])),
    optimizer: { kind: 'adamw', lr: 0.02, weightDecay: 0.01 },
    accumulationSteps: 2,
    maxGradNorm: 1,
    seed: 5,
    steps: 3,
    checkpointing: 'sqrt',
    data: new SeededBatches(),
  });
  const losses: number[] = [];
  trainer.subscribe((e) => e.type === 'step' && losses.push(e.loss));
  await trainer.run();
  const values = await trainer.trainableValues();
  trainer.dispose();
  backend.dispose();
  return { losses, values };
}

describe('core Trainer on the CPU backend', () => {
  it('AdamW + accumulation + clipping + LoRA dropout + sqrt checkpointing follow the float64 reference', async () => {
    const cpu = await train(createCpuBackend({ threads: 2 }));
    const ref = await train(createReferenceBackend());
    expect(cpu.losses).toHaveLength(3);
    cpu.losses.forEach((l, i) => expect(Math.abs(l - ref.losses[i]), `loss ${i}`).toBeLessThan(1e-4 * Math.abs(ref.losses[i])));
    expect(Object.keys(cpu.values).length).toBe(16);
    for (const [name, t] of Object.entries(ref.values)) {
      const got = cpu.values[name].data;
      let num = 0;
      let den = 0;
      t.data.forEach((w, i) => {
        num += (got[i] - w) ** 2;
        den += w * w;
      });
      expect(Math.sqrt(num / den), name).toBeLessThan(1e-4);
    }
  });
});
