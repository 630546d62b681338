import { describe, expect, it } from 'vitest';
import { eliminateDeadCode, evaluate, Graph, gradTrainable, NDArray, ops } from '../index.js';
import type { Tensor } from '../graph/tensor.js';

// Sizes chosen so that no other value has W's [out, in] shape (or its transpose).
const [BATCH, SEQ, IN, OUT, RANK] = [2, 3, 5, 7, 2];

/** y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with a squared-error loss; returns the graph after grad + dead-code elimination. */
function loraGraph(weightTrainable: boolean) {
  const g = new Graph();
  const x = g.input('x', [BATCH, SEQ, IN]);
  const target = g.input('target', [BATCH, SEQ, OUT]);
  const w = g.param('q_proj.weight', [OUT, IN], { trainable: weightTrainable });
  const a = g.param('q_proj.lora_A.weight', [RANK, IN], { trainable: true });
  const b = g.param('q_proj.lora_B.weight', [OUT, RANK], { trainable: true });
  const y = g.scope('q_proj', () => {
    const base = ops.matmul(x, w, { transB: true });
    const lora = ops.matmul(ops.matmul(x, a, { transB: true }), b, { transB: true });
    return ops.add(base, ops.mul(lora, 0.5));
  });
  const diff = ops.sub(y, target);
  const loss = ops.mean(ops.mul(diff, diff));
  g.output('loss', loss);
  const grads = gradTrainable(loss);
  for (const [name, t] of grads) g.output(`grad.${name}`, t);
  eliminateDeadCode(g);
  return { g, x, w, grads };
}

/** Backward nodes producing a value shaped like W (possibly batched or transposed): where dW would be. */
function weightShapedBackwardNodes(g: Graph, w: Tensor): string[] {
  const [o, i] = w.shape;
  return g.nodeIds().filter((id) => {
    const n = g.node(id);
    if (!n.backward || n.shape.length < 2) return false;
    const [r, c] = n.shape.slice(-2);
    return (r === o && c === i) || (r === i && c === o);
  });
}

/** Backward nodes reading W itself: with x not differentiated, none should exist. */
function backwardConsumersOf(g: Graph, t: Tensor): string[] {
  return g.consumers(t.id).filter((c) => g.node(c).backward);
}

describe('frozen base weight in a LoRA layer', () => {
  it('gets no gradient work: no node computes dW and nothing on the backward side reads W', () => {
    const { g, w, grads } = loraGraph(false);
    expect([...grads.keys()].sort()).toEqual(['q_proj.lora_A.weight', 'q_proj.lora_B.weight']);
    expect(weightShapedBackwardNodes(g, w)).toEqual([]);
    expect(backwardConsumersOf(g, w)).toEqual([]);
    // The only node reading W is the forward x·Wᵀ.
    expect(g.consumers(w.id).map((c) => g.node(c).op)).toEqual(['matmul']);
  });

  it('the same checks do find dW when W is trainable (so they are not vacuous)', () => {
    const { g, w, x } = loraGraph(true);
    const dw = weightShapedBackwardNodes(g, w);
    expect(dw.length).toBeGreaterThan(0);
    // dW = gᵀ·x: some W-shaped backward node depends on x.
    const readsX = (id: string): boolean => {
      const seen = new Set<string>();
      const stack = [id];
      while (stack.length) {
        const n = stack.pop()!;
        if (n === x.id) return true;
        if (seen.has(n)) continue;
        seen.add(n);
        stack.push(...g.node(n).inputs);
      }
      return false;
    };
    expect(dw.some(readsX)).toBe(true);
  });

  it('still computes correct gradients for A and B', () => {
    const { g } = loraGraph(false);
    const r = (n: number, s: number) => Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + s));
    const feeds: Record<string, NDArray> = {
      x: NDArray.from([BATCH, SEQ, IN], r(BATCH * SEQ * IN, 1)),
      target: NDArray.from([BATCH, SEQ, OUT], r(BATCH * SEQ * OUT, 2)),
      'q_proj.weight': NDArray.from([OUT, IN], r(OUT * IN, 3)),
      'q_proj.lora_A.weight': NDArray.from([RANK, IN], r(RANK * IN, 4)),
      'q_proj.lora_B.weight': NDArray.from([OUT, RANK], r(OUT * RANK, 5)),
    };
    const res = evaluate(g, feeds);
    // Central differences on one entry of B.
    const h = 1e-5;
    const at = (delta: number) => {
      const data = feeds['q_proj.lora_B.weight'].data.slice();
      data[3] += delta;
      return evaluate(g, { ...feeds, 'q_proj.lora_B.weight': NDArray.from([OUT, RANK], data) }, ['loss']).get('loss')!.data[0];
    };
    const numeric = (at(h) - at(-h)) / (2 * h);
    expect(Math.abs(res.get('grad.q_proj.lora_B.weight')!.data[3] - numeric)).toBeLessThan(1e-8 * Math.max(1, Math.abs(numeric)));
  });
});
