import { describe, expect, it } from 'vitest';
import { evaluate, type HostTensor, type NDArray } from '@lowrank/core';
import { createCpuBackend } from './index.js';
import { buildLlamaLora } from '../test/llama-lora-graph.js';

const host = (a: NDArray): HostTensor => ({ shape: a.shape, dtype: a.dtype, data: a.toHost() });

/** ‖got − want‖ / ‖want‖. */
function normRelative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe('LLaMA-shaped LoRA training step on the CPU backend', () => {
  it('loss and every adapter gradient agree with the float64 reference to 1e-4 relative', async () => {
    const m = buildLlamaLora({ blocks: 2, hidden: 32, heads: 4, intermediate: 48, vocab: 40, seq: 6, batch: 2, rank: 4, alpha: 8 });
    const values = m.values(1);
    const feeds = m.feeds(2);
    const want = evaluate(m.graph, { ...values, ...feeds }, m.outputs);
    const backend = createCpuBackend({ threads: 2 });
    const exe = await backend.compile(m.graph, { outputs: m.outputs });
    await exe.setParameters(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, host(v)])));
    const got = await exe.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, host(v)])));
    expect(m.trainable.length).toBe(16);
    for (const o of m.outputs) {
      const w = want.get(o)!.data;
      expect(Math.max(...Array.from(w, Math.abs)), `${o} is not trivially zero`).toBeGreaterThan(1e-6);
      expect(normRelative(got[o].data, w), o).toBeLessThan(1e-4);
    }
    backend.dispose();
  });
});
