import { evaluate, Graph, grad, Linear, Module, NDArray, ops, type HostTensor, type Tensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { applyAdapters } from './apply.js';
import { initialAdapterState } from './lora/init.js';
import { feedsOf, gradCheck, randomArray } from './test-support.js';

const D = 8;
const HEADS = 2;
const SQ = 3;
const SK = 5;

/** Multi-head cross-attention: queries from x [Sq, D], keys and values from memory [Sk, D]. */
class CrossAttention extends Module {
  constructor() {
    super();
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) this.addModule(n, new Linear(D, D));
  }

  private proj(name: string, x: Tensor): Tensor {
    const child = this.children.get(name) as unknown as { forward(x: Tensor): Tensor; path: string };
    return x.graph.at(child.path, [], () => child.forward(x));
  }

  private heads(t: Tensor, s: number): Tensor {
    return ops.transpose(ops.reshape(t, [s, HEADS, D / HEADS]), [1, 0, 2]);
  }

  forward(x: Tensor, memory: Tensor): Tensor {
    const q = this.heads(this.proj('q_proj', x), SQ);
    const k = this.heads(this.proj('k_proj', memory), SK);
    const v = this.heads(this.proj('v_proj', memory), SK);
    const o = ops.reshape(ops.transpose(ops.attention(q, k, v), [1, 0, 2]), [SQ, D]);
    return this.proj('o_proj', o);
  }
}

function setup() {
  const block = new CrossAttention();
  block.setPath('decoder.layers.0.encoder_attn');
  const base = new Map<string, HostTensor>();
  let k = 0;
  for (const [name, spec] of block.namedParams()) base.set(name, { shape: [...spec.shape], dtype: 'f32', data: Float32Array.from(randomArray(spec.shape, 20 + k++, -0.6, 0.6).data) });
  const applied = applyAdapters(block, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'k_proj', 'v_proj'], init_lora_weights: false });
  const adapter = initialAdapterState(block, base, { seed: 6 });
  const feeds: Record<string, NDArray> = { ...feedsOf(base), ...feedsOf(adapter), x: randomArray([SQ, D], 1), memory: randomArray([SK, D], 2) };
  return { block, applied, feeds };
}

describe('LoRA on the q, k and v projections of a cross-attention block', () => {
  it('adapts exactly q, k and v under their Hugging Face paths', () => {
    const { applied } = setup();
    expect(applied.layers).toEqual(['q_proj', 'k_proj', 'v_proj']);
  });

  it('gradients of every adapter tensor and of both sequences match finite differences', () => {
    const { block, feeds } = setup();
    const wrt = ['x', 'memory', ...['q_proj', 'k_proj', 'v_proj'].flatMap((p) => [`decoder.layers.0.encoder_attn.${p}.lora_A.weight`, `decoder.layers.0.encoder_attn.${p}.lora_B.weight`])];
    const r = gradCheck((g) => block.forward(g.input('x', [SQ, D]), g.input('memory', [SK, D])), feeds, wrt);
    expect(r.maxRelError).toBeLessThan(1e-6);
  });

  it('trains: gradient descent on the adapters alone fits a target the base block misses', () => {
    const { block, feeds } = setup();
    const g = new Graph();
    const y = block.forward(g.input('x', [SQ, D]), g.input('memory', [SK, D]));
    const diff = ops.sub(y, g.input('target', [SQ, D]));
    const loss = ops.mean(ops.mul(diff, diff));
    const names = [...g.params.values()].filter((p) => p.trainable).map((p) => p.name);
    expect(names.length).toBe(6);
    grad(loss, names.map((n) => g.paramTensor(n))).forEach((t, i) => g.output(`g:${names[i]}`, t));
    g.output('loss', loss);
    const state: Record<string, NDArray> = { ...feeds, target: randomArray([SQ, D], 77, -1, 1) };
    const initial = evaluate(g, state, ['loss']).get('loss')!.data[0];
    let last = initial;
    for (let step = 0; step < 150; step++) {
      const out = evaluate(g, state);
      last = out.get('loss')!.data[0];
      for (const n of names) {
        const gv = out.get(`g:${n}`)!.data;
        state[n] = new NDArray(state[n].shape, 'f32', state[n].data.map((v, i) => v - 0.5 * gv[i]));
      }
    }
    expect(last).toBeLessThan(0.5 * initial);
  });
});
