import { describe, expect, it } from 'vitest';
import { grad } from '../autodiff/grad.js';
import { Graph } from '../graph/graph.js';
import { NDArray } from '../reference/ndarray.js';
import { evaluate } from '../reference/evaluate.js';
import { planMemory } from '../memory/index.js';
import * as ops from '../ops/index.js';
import { bf16BitsToNumber, numberToBf16Bits } from '../dtype.js';
import { buildTrainGraph, gradName } from './train-graph.js';

const WIDTH = 256;
const LAYERS = 4;

/** A stack of y = tanh(x · W_iᵀ + s · (x · A_iᵀ) · B_iᵀ) with W_i frozen bf16, the LoRA factors trainable. */
function stack(): { graph: Graph; loss: ReturnType<typeof ops.sum>; feeds: Record<string, NDArray> } {
  const g = new Graph();
  const feeds: Record<string, NDArray> = {};
  let x = g.input('x', [8, WIDTH]);
  feeds.x = new NDArray([8, WIDTH], 'f32', Float64Array.from({ length: 8 * WIDTH }, (_, i) => Math.sin(i) * 0.5));
  for (let l = 0; l < LAYERS; l++) {
    const w = g.param(`w${l}`, [WIDTH, WIDTH], { dtype: 'bf16' });
    const a = g.param(`a${l}`, [2, WIDTH], { trainable: true });
    const b = g.param(`b${l}`, [WIDTH, 2], { trainable: true });
    feeds[`w${l}`] = new NDArray([WIDTH, WIDTH], 'bf16', Float64Array.from({ length: WIDTH * WIDTH }, (_, i) => bf16BitsToNumber(numberToBf16Bits(Math.cos(i * 0.7 + l) * 0.06))));
    feeds[`a${l}`] = new NDArray([2, WIDTH], 'f32', Float64Array.from({ length: 2 * WIDTH }, (_, i) => Math.sin(i + l) * 0.1));
    feeds[`b${l}`] = new NDArray([WIDTH, 2], 'f32', Float64Array.from({ length: 2 * WIDTH }, (_, i) => Math.cos(i + l) * 0.1));
    const base = ops.matmul(x, ops.cast(w, 'f32'), { transB: true });
    x = ops.tanh(ops.add(base, ops.matmul(ops.matmul(x, a, { transB: true }), b, { transB: true })));
  }
  return { graph: g, loss: ops.sum(x), feeds };
}

describe('frozen-derived values are remade where the backward reads them', () => {
  it('the forward upcast of a bf16 weight has no backward reader, gradients are unchanged, and planned activations drop', () => {
    const plain = stack();
    const wrt = [...plain.graph.params.values()].filter((p) => p.trainable).map((p) => plain.graph.tensor(p.id));
    grad(plain.loss, wrt).forEach((gr, i) => plain.graph.output(`grad:${[...plain.graph.params.values()].filter((p) => p.trainable)[i].name}`, gr));
    plain.graph.output('loss', plain.loss);

    const s = stack();
    const tg = buildTrainGraph(s.graph, s.loss, { optimizer: { kind: 'sgd', lr: 0 }, exposeGradients: true });
    const casts = [...tg.graph.nodeIds()].map((id) => tg.graph.node(id)).filter((n) => n.op === 'cast' && n.dtype === 'f32' && n.shape[0] === WIDTH);
    const forwardCasts = casts.filter((n) => !n.backward);
    expect(forwardCasts).toHaveLength(LAYERS);
    for (const n of forwardCasts) expect(tg.graph.consumers(n.id).filter((c) => tg.graph.node(c).backward)).toEqual([]);
    // Layer 0's input needs no gradient, so the backward reads the weights of layers 1.. only: one remade upcast each.
    expect(casts.filter((n) => n.backward)).toHaveLength(LAYERS - 1);

    const names = tg.trainable.map(gradName);
    const feeds = { ...s.feeds, 'optim.lr': new NDArray([], 'f32', Float64Array.of(0)) };
    const got = evaluate(tg.graph, feeds, names);
    const want = evaluate(plain.graph, plain.feeds, names);
    for (const n of names) expect(Array.from(got.get(n)!.data)).toEqual(Array.from(want.get(n)!.data));

    const roots = [...names, ...Object.values(tg.signature.updates ?? {})].map((o) => tg.graph.outputTensor(o).id);
    const remade = planMemory(tg.graph, roots).atPeak.activations;
    const kept = planMemory(plain.graph, names.map((o) => plain.graph.outputTensor(o).id)).atPeak.activations;
    // Kept: every layer's f32 weight (256 KB each) lives from the forward to the backward.
    expect(remade).toBeLessThan(kept - (LAYERS - 2) * WIDTH * WIDTH * 4);
  });
});
