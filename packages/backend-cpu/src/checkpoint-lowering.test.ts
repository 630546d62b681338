import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { orderConstraintsOf, rematerialize, type HostTensor, type NDArray } from '@lowrank/core';
import { encodeModel, inspectModel, lowerGraph, sessionOptions, type InspectedModel } from '@lowrank/onnx';
import { InferenceSession } from 'onnxruntime-node';
import { createCpuBackend } from './index.js';
import { buildLlamaLora } from '../test/llama-lora-graph.js';

const dir = mkdtempSync(join(tmpdir(), 'lowrank-remat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const host = (a: NDArray): HostTensor => ({ shape: a.shape, dtype: a.dtype, data: a.toHost() });
const cfg = { blocks: 4, hidden: 32, heads: 4, intermediate: 48, vocab: 40, seq: 8, batch: 2, rank: 4, alpha: 8, segments: true };

const recomputed = (m: InspectedModel) => m.nodes.filter((n) => n.name.includes(':recompute(')).length;
const matmuls = (m: InspectedModel) => m.nodes.filter((n) => /MatMul|Gemm/.test(n.opType)).length;

async function optimizedModel(remat: boolean, name: string): Promise<{ model: InspectedModel; out: Record<string, HostTensor> }> {
  const m = buildLlamaLora(cfg);
  if (remat) expect(rematerialize(m.graph, 'sqrt', m.outputs).checkpoint.recomputedOps).toBeGreaterThan(50);
  const path = join(dir, `${name}.onnx`);
  const backend = createCpuBackend({ threads: 1, optimizedModelFilePath: path });
  const exe = await backend.compile(m.graph, { outputs: m.outputs });
  await exe.setParameters(Object.fromEntries(Object.entries(m.values(1)).map(([k, v]) => [k, host(v)])));
  const out = await exe.run(Object.fromEntries(Object.entries(m.feeds(2)).map(([k, v]) => [k, host(v)])));
  backend.dispose();
  return { model: inspectModel(readFileSync(path)), out };
}

describe('checkpointing survives lowering and ORT optimization', () => {
  it("the remat pass's order constraints become gates in the ONNX graph", () => {
    const m = buildLlamaLora(cfg);
    rematerialize(m.graph, 'sqrt', m.outputs);
    expect(orderConstraintsOf(m.graph).size).toBeGreaterThan(0);
    const values = m.values(1);
    const lower = (orderRecompute: boolean) =>
      inspectModel(encodeModel(lowerGraph(m.graph, { outputs: m.outputs, paramValues: (n) => host(values[n]), orderRecompute }).model));
    const gates = (model: InspectedModel) => model.nodes.filter((n) => n.name.includes(':gate:') && n.opType === 'Where').length;
    expect(gates(lower(true))).toBeGreaterThan(0);
    expect(gates(lower(false))).toBe(0);
  });

  it('recomputed nodes are still in the ORT-optimized model and results are unchanged', async () => {
    const plain = await optimizedModel(false, 'plain');
    const remat = await optimizedModel(true, 'remat');
    expect(recomputed(plain.model)).toBe(0);
    expect(recomputed(remat.model)).toBeGreaterThan(50);
    // sqrt on 4 blocks recomputes 2 runs of 2 blocks (the last run's block is kept): at least q, k, v, o, gate, up and the LoRA matmuls of 2 blocks.
    expect(matmuls(remat.model) - matmuls(plain.model)).toBeGreaterThanOrEqual(2 * 10);
    for (const [k, v] of Object.entries(plain.out)) {
      const w = remat.out[k].data;
      for (let i = 0; i < v.data.length; i++) expect(Math.abs(w[i] - v.data[i]), `${k}[${i}]`).toBeLessThan(1e-5 * (1 + Math.abs(v.data[i])));
    }
  });

  it('control: ungated copies are merged by CommonSubexpressionElimination unless it is disabled; gated ones survive it', async () => {
    const m = buildLlamaLora(cfg);
    rematerialize(m.graph, 'sqrt', m.outputs);
    const values = m.values(1);
    const optimize = async (name: string, g: typeof m.graph, orderRecompute: boolean, cse: boolean) => {
      const model = lowerGraph(g, { outputs: m.outputs, paramValues: (n) => host(values[n]), orderRecompute }).model;
      const path = join(dir, `${name}.onnx`);
      const opts = sessionOptions({ executionProviders: ['cpu'], threads: 1, optimizedModelFilePath: path });
      const session = await InferenceSession.create(encodeModel(model), cse ? { ...opts, extra: {} } : opts);
      await session.release();
      return inspectModel(readFileSync(path));
    };
    const plain = await optimize('plain', buildLlamaLora(cfg).graph, true, false);
    const kept = await optimize('ungated-cse-off', m.graph, false, false);
    const merged = await optimize('ungated-cse-on', m.graph, false, true);
    const gatedKept = await optimize('gated-cse-off', m.graph, true, false);
    const gatedMerged = await optimize('gated-cse-on', m.graph, true, true);
    expect(matmuls(kept) - matmuls(plain)).toBeGreaterThanOrEqual(20);
    expect(merged.nodes.length).toBeLessThan(kept.nodes.length);
    // Nodes that CSE removed (merged into an equal one), by name.
    const gone = (before: InspectedModel, after: InspectedModel) => {
      const left = new Set(after.nodes.map((n) => n.name));
      return before.nodes.filter((n) => !left.has(n.name)).map((n) => n.name);
    };
    expect(gone(kept, merged).filter((n) => n.includes(':recompute(')).length).toBeGreaterThan(0);
    // With gates, CSE may still merge ordinary duplicates in the backward, but no recomputed node.
    expect(gone(gatedKept, gatedMerged).filter((n) => n.includes(':recompute('))).toEqual([]);
  });
});
