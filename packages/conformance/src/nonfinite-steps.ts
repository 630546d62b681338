import { beforeAll, describe, expect, it } from 'vitest';
import { Graph, NonFiniteStepError, ops, Trainer, type Backend, type BatchStream, type HostTensor, type NonFinitePolicy, type StepHook, type TrainBatch } from '@lowrank/core';

// A tiny LoRA language model whose branch scale is fed per step, so a hook can poison one step.
const V = 7, D = 5, R = 2, SEQ = 4;

function build() {
  const g = new Graph();
  const ids = g.input('input_ids', [2, SEQ], 'i32');
  const labels = g.input('labels', [2, SEQ], 'i32');
  const scale = g.input('lora.scale', [], 'f32');
  const emb = g.param('embed.weight', [V, D]);
  const a = g.param('proj.lora_A.weight', [R, D], { trainable: true });
  const b = g.param('proj.lora_B.weight', [D, R], { trainable: true });
  const h = ops.gather(emb, ids);
  const y = ops.tanh(ops.add(h, ops.mul(ops.matmul(ops.matmul(h, a, { transB: true }), b, { transB: true }), scale)));
  return { graph: g, loss: ops.crossEntropy(ops.matmul(y, emb, { transB: true }), labels) };
}

const tensor = (shape: number[], f: (i: number) => number): HostTensor => ({ shape, dtype: 'f32', data: Float32Array.from({ length: shape[0] * shape[1] }, (_, i) => f(i)) });

class Batches implements BatchStream {
  private k = 0;
  next(): TrainBatch {
    const ids = Int32Array.from({ length: 2 * SEQ }, (_, i) => (i * 3 + this.k++) % V);
    return { feeds: { input_ids: { shape: [2, SEQ], dtype: 'i32', data: ids }, labels: { shape: [2, SEQ], dtype: 'i32', data: ids.map((x) => (x + 1) % V) } }, tokens: 2 * SEQ };
  }
  position() {
    return this.k;
  }
  seek(p: unknown) {
    this.k = Number(p);
  }
}

async function trainer(backend: Backend, policy: NonFinitePolicy, poisonStep: number, value: number): Promise<Trainer> {
  const hook: StepHook = { name: 'poison', feeds: ({ step }) => ({ 'lora.scale': { shape: [], dtype: 'f32', data: Float32Array.of(step === poisonStep ? value : 2) } }) };
  return Trainer.create({
    backend,
    build,
    parameters: { 'embed.weight': tensor([V, D], (i) => Math.sin(i) * 0.5), 'proj.lora_A.weight': tensor([R, D], (i) => Math.cos(i) * 0.3), 'proj.lora_B.weight': tensor([D, R], (i) => 0.1 * i) },
    optimizer: { kind: 'adamw', lr: 0.05 },
    steps: 10,
    data: new Batches(),
    hooks: [hook],
    onNonFinite: policy,
  });
}

const snapshot = async (t: Trainer) => Object.fromEntries(Object.entries((await t.state()).tensors).map(([k, v]) => [k, Array.from(v.data as Float32Array)]));

/**
 * The trainer's in-graph finite check on a backend: a poisoned step (inf or NaN
 * in the loss) is detected by the backend's own kernels and its update held back,
 * and 'stop' raises. Backends call this from their tests, as describeConformance.
 */
export function describeNonFiniteSteps(name: string, makeBackend: () => Backend | Promise<Backend>): void {
  describe(`non-finite steps on ${name}`, () => {
    let backend: Backend;
    beforeAll(async () => {
      backend = await makeBackend();
    });

    for (const bad of [Number.POSITIVE_INFINITY, Number.NaN]) {
      it(`a ${bad} step is detected in the ${name} graph and its update (weights and moments) held back`, async () => {
        const t = await trainer(backend, 'skip', 1, bad);
        await t.trainStep();
        const before = await snapshot(t);
        const m = await t.trainStep();
        expect(m.skipped).toBe(true);
        expect(await snapshot(t)).toEqual(before);
        const next = await t.trainStep();
        expect(next.skipped).toBe(false);
        expect((await snapshot(t))['proj.lora_A.weight']).not.toEqual(before['proj.lora_A.weight']);
        t.dispose();
      });
    }

    it("'stop' raises NonFiniteStepError", async () => {
      const t = await trainer(backend, 'stop', 0, Number.NaN);
      await expect(t.trainStep()).rejects.toBeInstanceOf(NonFiniteStepError);
      t.dispose();
    });
  });
}
