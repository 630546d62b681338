import { Graph, ops, type HostTensor, type Tensor } from '@lowrank/core';
import { seededValues } from './compare.js';

export interface TinyModelConfig {
  readonly blocks: number;
  readonly dim: number;
  readonly rank: number;
  readonly vocab: number;
  readonly batch: number;
  readonly seq: number;
  readonly dropout?: number;
  /** false: train the block weights themselves, no LoRA (default true). */
  readonly lora?: boolean;
}

export interface TinyModel {
  readonly graph: Graph;
  readonly loss: Tensor;
  readonly config: TinyModelConfig;
}

/**
 * A LoRA-adapted residual MLP language model: frozen embedding and block
 * weights, trainable LoRA A/B per block, each block a checkpoint segment:
 * h ← h + gelu(layerNorm(h))·(W + B·A)ᵀ, logits = h·Eᵀ, mean cross-entropy.
 */
export function buildTinyModel(config: TinyModelConfig): TinyModel {
  const g = new Graph();
  const { dim, vocab, batch, seq } = config;
  const tokens = g.input('tokens', [batch, seq], 'i32');
  const labels = g.input('labels', [batch, seq], 'i32');
  const emb = g.param('embed.weight', [vocab, dim]);
  let h = ops.gather(emb, tokens);
  for (let i = 0; i < config.blocks; i++) h = block(g, i, h, config);
  const logits = ops.matmul(h, emb, { transB: true });
  return { graph: g, loss: ops.crossEntropy(logits, labels), config };
}

function block(g: Graph, i: number, h: Tensor, c: TinyModelConfig): Tensor {
  return g.segment(`block.${i}`, () =>
    g.scope(`layers.${i}`, () => {
      const lora = c.lora ?? true;
      const w = paramOf(g, `layers.${i}.mlp.weight`, [c.dim, c.dim], !lora);
      const ln = paramOf(g, `layers.${i}.ln.weight`, [c.dim], false);
      const lnb = paramOf(g, `layers.${i}.ln.bias`, [c.dim], false);
      const x = ops.gelu(ops.layerNorm(h, ln, lnb));
      const base = ops.matmul(x, w, { transB: true });
      if (!lora) return ops.add(h, base);
      const a = paramOf(g, `layers.${i}.mlp.lora_A.weight`, [c.rank, c.dim], true);
      const b = paramOf(g, `layers.${i}.mlp.lora_B.weight`, [c.dim, c.rank], true);
      const xd = c.dropout ? ops.dropout(x, c.dropout) : x;
      const delta = ops.matmul(ops.matmul(xd, a, { transB: true }), b, { transB: true });
      return ops.add(h, ops.add(base, ops.mul(delta, 2)));
    }),
  );
}

/** A parameter of the graph, declared on first use. */
function paramOf(g: Graph, name: string, shape: number[], trainable: boolean): Tensor {
  return g.params.has(name) ? g.paramTensor(name) : g.param(name, shape, { trainable });
}

/** Parameter values for the model (LoRA B small but non-zero so every gradient is non-trivial). */
export function tinyModelParams(graph: Graph, seed = 3): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  let k = 0;
  for (const [name, p] of graph.params) {
    const n = p.shape.reduce((a, d) => a * d, 1);
    const scale = name.includes('ln.weight') ? 0 : name.startsWith('optim.') || name.startsWith('accum.') ? -1 : name.includes('lora_B') ? 0.05 : 0.3;
    const data =
      scale === -1
        ? new Float32Array(n)
        : scale === 0
          ? Float32Array.from(seededValues(seed + k, n, 0.8, 1.2))
          : Float32Array.from(seededValues(seed + k, n, -scale, scale));
    out[name] = { shape: p.shape, dtype: 'f32', data };
    k++;
  }
  return out;
}

/** A deterministic batch of next-token data: labels are tokens shifted by one. */
export function tinyBatch(config: TinyModelConfig, seed: number): { tokens: HostTensor; labels: HostTensor } {
  const n = config.batch * config.seq;
  const toks = seededValues(seed, n, 0, config.vocab).map(Math.floor);
  const labels = toks.map((t, i) => ((i + 1) % config.seq === 0 ? -100 : (t * 7 + 3) % config.vocab));
  return {
    tokens: { shape: [config.batch, config.seq], dtype: 'i32', data: Int32Array.from(toks) },
    labels: { shape: [config.batch, config.seq], dtype: 'i32', data: Int32Array.from(labels) },
  };
}
