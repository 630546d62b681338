// Small training graphs for the checkpoint tests, built straight from core ops.
import { gradTrainable } from '../autodiff/grad.js';
import { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import * as ops from '../ops/index.js';
import { NDArray } from '../reference/ndarray.js';
import { numel } from '../shape.js';
import { checkpoint } from './checkpoint.js';

export interface TrainingGraph {
  readonly graph: Graph;
  /** `loss` and `grad:<param>` for every trainable parameter. */
  readonly outputs: readonly string[];
  /** Values of every parameter and input, by name. */
  readonly feeds: Record<string, NDArray>;
  /** The output node id of each segment, in order (chains only). */
  readonly segmentOutputs: readonly string[];
}

/** Deterministic pseudo-random numbers in [-0.5, 0.5). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

class Builder {
  readonly graph = new Graph();
  readonly feeds: Record<string, NDArray> = {};
  private readonly rand: () => number;
  constructor(seed: number) {
    this.rand = lcg(seed);
  }
  param(name: string, shape: number[], scale: number, trainable = true): Tensor {
    this.feeds[name] = new NDArray(shape, 'f32', Float64Array.from({ length: numel(shape) }, () => this.rand() * scale));
    return this.graph.param(name, shape, { trainable });
  }
  input(name: string, shape: number[]): Tensor {
    this.feeds[name] = new NDArray(shape, 'f32', Float64Array.from({ length: numel(shape) }, () => this.rand()));
    return this.graph.input(name, shape);
  }
  labels(name: string, shape: number[], classes: number): Tensor {
    this.feeds[name] = new NDArray(shape, 'i32', Float64Array.from({ length: numel(shape) }, (_, i) => (i * 7 + 3) % classes));
    return this.graph.input(name, shape, 'i32');
  }
  /** Appends the backward and names `loss` and `grad:<param>` as outputs. */
  finish(loss: Tensor, segmentOutputs: string[] = [], rng = false): TrainingGraph {
    const g = this.graph;
    g.output('loss', loss);
    for (const [name, t] of gradTrainable(loss)) g.output(`grad:${name}`, t);
    if (rng) {
      this.feeds['rng.seed'] = new NDArray([], 'i32', Float64Array.of(1234));
      this.feeds['rng.step'] = new NDArray([], 'i32', Float64Array.of(5));
    }
    return { graph: g, outputs: [...g.outputs.keys()], feeds: this.feeds, segmentOutputs };
  }
}

/** Values each chain segment makes (matmul, tanh, mul, add, tanh), all of one [batch, dim] shape. */
export const CHAIN_VALUES_PER_SEGMENT = 5;

/**
 * n uniform segments a = tanh(x·W_i), y = tanh(a·a + x) on a [batch, dim]
 * state; loss = mean(y²). The backward of a segment reads its internal `a`
 * and its output `y` (tanh's VJP uses its output), so every evaluation of a
 * segment, as a tape or to advance, leaves one copy of `y`.
 */
export function buildChain(n: number, batch = 4, dim = 8, seed = 1): TrainingGraph {
  const b = new Builder(seed);
  let x = b.input('x', [batch, dim]);
  const outs: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = b.param(`chain.${i}.weight`, [dim, dim], 1);
    x = checkpoint(b.graph, `chain.${i}`, () => {
      const a = ops.tanh(ops.matmul(x, w));
      return ops.tanh(ops.add(ops.mul(a, a), x));
    });
    outs.push(x.id);
  }
  return b.finish(ops.mean(ops.mul(x, x)), outs);
}

/** An MLP of `layers` residual blocks x + dropout(gelu(x·W1 + b1))·W2, mean-squared loss. */
export function buildMlp(layers: number, opts: { batch?: number; dim?: number; hidden?: number; dropout?: number; seed?: number } = {}): TrainingGraph {
  const { batch = 3, dim = 6, hidden = 10, dropout = 0.25, seed = 2 } = opts;
  const b = new Builder(seed);
  const g = b.graph;
  let x = b.input('x', [batch, dim]);
  const target = b.input('target', [batch, dim]);
  for (let i = 0; i < layers; i++) {
    const p = `mlp.${i}`;
    const w1 = b.param(`${p}.fc1.weight`, [hidden, dim], 0.8);
    const b1 = b.param(`${p}.fc1.bias`, [hidden], 0.2);
    // A frozen layer in the middle: its weight gets no gradient, its input still does.
    const w2 = b.param(`${p}.fc2.weight`, [dim, hidden], 0.8, i !== 3);
    x = checkpoint(g, p, () =>
      g.scope(p, () => {
        // fc2's weight gradient reads the dropout output, so the mask is part of what a remat recomputes.
        const h = ops.dropout(ops.gelu(ops.add(ops.matmul(x, w1, { transB: true }), b1)), dropout);
        return ops.add(x, ops.matmul(h, w2, { transB: true }));
      }),
    );
  }
  const d = ops.sub(x, target);
  return b.finish(ops.mean(ops.mul(d, d)), [], dropout > 0);
}

export interface TransformerSize {
  readonly blocks: number;
  readonly batch?: number;
  readonly seq?: number;
  readonly dim?: number;
  readonly heads?: number;
  readonly ffn?: number;
  readonly vocab?: number;
  readonly dropout?: number;
  readonly seed?: number;
  /** Freeze v, o and the MLP too (LoRA-style: only adapters and norms train). */
  readonly frozenBase?: boolean;
}

/**
 * A pre-norm decoder: per block RMSNorm, causal multi-head attention with
 * frozen projections and a trainable LoRA pair on q, RMSNorm, SiLU MLP,
 * residual dropout; then a final norm, a head and cross-entropy.
 */
export function buildTransformer(size: TransformerSize): TrainingGraph {
  const { blocks, batch = 2, seq = 4, dim = 8, heads = 2, ffn = 12, vocab = 11, dropout = 0.1, seed = 3 } = size;
  const trainBase = !size.frozenBase;
  const b = new Builder(seed);
  const g = b.graph;
  const hd = dim / heads;
  let x = b.input('embeddings', [batch, seq, dim]);
  const labels = b.labels('labels', [batch, seq], vocab);
  const splitHeads = (t: Tensor) => ops.transpose(ops.reshape(t, [batch, seq, heads, hd]), [0, 2, 1, 3]);
  for (let i = 0; i < blocks; i++) {
    const p = `model.layers.${i}`;
    const n1 = b.param(`${p}.input_layernorm.weight`, [dim], 1);
    const wq = b.param(`${p}.self_attn.q_proj.weight`, [dim, dim], 0.6, false);
    const qa = b.param(`${p}.self_attn.q_proj.lora_A.weight`, [2, dim], 0.5);
    const qb = b.param(`${p}.self_attn.q_proj.lora_B.weight`, [dim, 2], 0.5);
    const wk = b.param(`${p}.self_attn.k_proj.weight`, [dim, dim], 0.6, false);
    const wv = b.param(`${p}.self_attn.v_proj.weight`, [dim, dim], 0.6, trainBase);
    const wo = b.param(`${p}.self_attn.o_proj.weight`, [dim, dim], 0.6, trainBase);
    const n2 = b.param(`${p}.post_attention_layernorm.weight`, [dim], 1);
    const up = b.param(`${p}.mlp.up_proj.weight`, [ffn, dim], 0.5, trainBase);
    const down = b.param(`${p}.mlp.down_proj.weight`, [dim, ffn], 0.5, trainBase);
    x = checkpoint(g, p, () =>
      g.scope(p, () => {
        const h = ops.rmsNorm(x, n1);
        const lora = ops.matmul(ops.matmul(h, qa, { transB: true }), qb, { transB: true });
        const q = splitHeads(ops.add(ops.matmul(h, wq, { transB: true }), lora));
        const k = splitHeads(ops.matmul(h, wk, { transB: true }));
        const v = splitHeads(ops.matmul(h, wv, { transB: true }));
        const att = ops.reshape(ops.transpose(ops.attention(q, k, v, { causal: true }), [0, 2, 1, 3]), [batch, seq, dim]);
        const r = ops.add(x, ops.matmul(att, wo, { transB: true }));
        const m = ops.matmul(ops.silu(ops.matmul(ops.rmsNorm(r, n2), up, { transB: true })), down, { transB: true });
        return ops.add(r, g.scope('mlp', () => ops.dropout(m, dropout)));
      }),
    );
  }
  const head = b.param('lm_head.weight', [vocab, dim], 0.5, trainBase);
  const norm = b.param('model.norm.weight', [dim], 1);
  const logits = ops.matmul(ops.rmsNorm(x, norm), head, { transB: true });
  return b.finish(ops.crossEntropy(logits, labels), [], dropout > 0);
}
