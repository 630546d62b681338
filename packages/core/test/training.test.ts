// End-to-end: models built with the graph API learn with plain gradient
// descent on the float64 reference evaluator.
import { describe, expect, it } from 'vitest';
import { evaluate, Graph, gradTrainable, NDArray, ops, type Tensor } from '../src/index.js';
import { numel } from '../src/shape.js';
import { randomValues, seededRandom } from './support/random.js';

interface Trainer {
  graph: Graph;
  params: Record<string, NDArray>;
  grads: Map<string, Tensor>;
}

/** Plain gradient descent: p ← p - lr·∇p, the update done on the host. Returns the loss per step. */
function train(t: Trainer, feeds: Record<string, NDArray>, steps: number, lr: number): number[] {
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const res = evaluate(t.graph, { ...feeds, ...t.params });
    losses.push(res.get('loss')!.data[0]);
    for (const name of t.grads.keys()) {
      const p = t.params[name];
      const gr = res.get(`grad.${name}`)!.data;
      t.params[name] = new NDArray(p.shape, p.dtype, p.data.map((v, i) => v - lr * gr[i]));
    }
  }
  return losses;
}

function finish(g: Graph, loss: Tensor, init: Record<string, NDArray>): Trainer {
  g.output('loss', loss);
  const grads = gradTrainable(loss);
  for (const [name, gr] of grads) g.output(`grad.${name}`, gr);
  return { graph: g, params: init, grads };
}

describe('training with plain gradient descent on the reference evaluator', () => {
  it('a two-layer MLP halves its regression loss', () => {
    const rand = seededRandom(1);
    const [N, IN, HID, OUT] = [24, 3, 8, 2];
    const g = new Graph();
    const x = g.input('x', [N, IN]);
    const y = g.input('y', [N, OUT]);
    const shapes: Record<string, number[]> = { 'fc1.weight': [HID, IN], 'fc1.bias': [HID], 'fc2.weight': [OUT, HID], 'fc2.bias': [OUT] };
    const p = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, g.param(n, s, { trainable: true })]));
    const h = ops.tanh(ops.add(ops.matmul(x, p['fc1.weight'], { transB: true }), p['fc1.bias']));
    const out = ops.add(ops.matmul(h, p['fc2.weight'], { transB: true }), p['fc2.bias']);
    const diff = ops.sub(out, y);
    const init = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, NDArray.from(s, randomValues(rand, numel(s), 0.5))]));
    const trainer = finish(g, ops.mean(ops.mul(diff, diff)), init);

    const xs = randomValues(rand, N * IN, 1);
    // A smooth nonlinear target: y0 = sin(x0 + x1), y1 = x2·x0.
    const ys = Array.from({ length: N }, (_, i) => [Math.sin(xs[3 * i] + xs[3 * i + 1]), xs[3 * i + 2] * xs[3 * i]]).flat();
    const losses = train(trainer, { x: NDArray.from([N, IN], xs), y: NDArray.from([N, OUT], ys) }, 300, 0.2);
    expect(losses[0]).toBeGreaterThan(0.1);
    expect(losses.at(-1)!).toBeLessThan(losses[0] / 2);
  });

  it('a one-block causal transformer (gather, rmsNorm, rope attention, SiLU MLP, cross-entropy) halves its loss', () => {
    const rand = seededRandom(2);
    const [B, S, V, D, H, F] = [2, 6, 10, 16, 2, 32];
    const HD = D / H;
    const g = new Graph();
    const ids = g.input('input_ids', [B, S], 'i32');
    const labels = g.input('labels', [B, S], 'i32');
    const shapes: Record<string, number[]> = {
      'model.embed_tokens.weight': [V, D],
      'model.layers.0.input_layernorm.weight': [D],
      'model.layers.0.self_attn.q_proj.weight': [D, D],
      'model.layers.0.self_attn.k_proj.weight': [D, D],
      'model.layers.0.self_attn.v_proj.weight': [D, D],
      'model.layers.0.self_attn.o_proj.weight': [D, D],
      'model.layers.0.post_attention_layernorm.weight': [D],
      'model.layers.0.mlp.up_proj.weight': [F, D],
      'model.layers.0.mlp.down_proj.weight': [D, F],
      'model.norm.weight': [D],
      'lm_head.weight': [V, D],
    };
    const p = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, g.param(n, s, { trainable: true })]));
    const linear = (x: Tensor, name: string) => ops.matmul(x, p[name], { transB: true });
    const L = 'model.layers.0';

    const hidden = ops.gather(p['model.embed_tokens.weight'], ids);
    const { cos, sin } = ops.ropeTables(ops.arange(g, 0, S), HD, 10000);
    const heads = (t: Tensor) => ops.transpose(ops.reshape(t, [B, S, H, HD]), [0, 2, 1, 3]);
    const attnIn = ops.rmsNorm(hidden, p[`${L}.input_layernorm.weight`]);
    const q = ops.rope(heads(linear(attnIn, `${L}.self_attn.q_proj.weight`)), cos, sin);
    const k = ops.rope(heads(linear(attnIn, `${L}.self_attn.k_proj.weight`)), cos, sin);
    const v = heads(linear(attnIn, `${L}.self_attn.v_proj.weight`));
    const ctx = ops.reshape(ops.transpose(ops.attention(q, k, v, { causal: true }), [0, 2, 1, 3]), [B, S, D]);
    const h1 = ops.add(hidden, linear(ctx, `${L}.self_attn.o_proj.weight`));
    const mlpIn = ops.rmsNorm(h1, p[`${L}.post_attention_layernorm.weight`]);
    const h2 = ops.add(h1, linear(ops.silu(linear(mlpIn, `${L}.mlp.up_proj.weight`)), `${L}.mlp.down_proj.weight`));
    const logits = linear(ops.rmsNorm(h2, p['model.norm.weight']), 'lm_head.weight');
    const loss = ops.crossEntropy(logits, labels);

    const init = Object.fromEntries(
      Object.entries(shapes).map(([n, s]) => [n, NDArray.from(s, s.length === 1 ? new Array(s[0]).fill(1) : randomValues(rand, numel(s), 0.3))]),
    );
    const trainer = finish(g, loss, init);

    // Next token = previous token + 2 (mod V); the last position has no target.
    const tokens = Array.from({ length: B * S }, (_, i) => (Math.floor(i / S) * 3 + 2 * (i % S)) % V);
    const targets = tokens.map((t, i) => (i % S === S - 1 ? -100 : (t + 2) % V));
    const losses = train(trainer, { input_ids: NDArray.from([B, S], tokens, 'i32'), labels: NDArray.from([B, S], targets, 'i32') }, 60, 0.5);
    expect(losses[0]).toBeGreaterThan(1);
    expect(losses.at(-1)!).toBeLessThan(losses[0] / 2);
  });
});
