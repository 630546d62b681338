import { gradTrainable, Graph, NDArray, ops, type Tensor } from '@lowrank/core';

/** A LLaMA-shaped decoder with LoRA on q/k/v/o, as a training-step graph. */
export interface LlamaLoraConfig {
  readonly blocks: number;
  readonly hidden: number;
  readonly heads: number;
  readonly intermediate: number;
  readonly vocab: number;
  readonly seq: number;
  readonly batch: number;
  readonly rank: number;
  readonly alpha: number;
  /** Adds `next.<param>` outputs: one in-graph SGD step on the adapters. */
  readonly sgdRate?: number;
  /** Tags each block as a checkpoint segment `model.layers.<i>`. */
  readonly segments?: boolean;
  /** LoRA dropout on the adapter input (PEFT's lora_dropout). */
  readonly loraDropout?: number;
  /** Builds only the forward graph and its loss (for the Trainer, which adds the backward). */
  readonly forwardOnly?: boolean;
}

export interface LlamaLoraGraph {
  readonly graph: Graph;
  readonly loss: Tensor;
  readonly trainable: readonly string[];
  readonly outputs: readonly string[];
  readonly updates: Readonly<Record<string, string>>;
  /** Random parameter values (B non-zero so every adapter gradient is non-zero). */
  values(seed: number): Record<string, NDArray>;
  feeds(seed: number): Record<string, NDArray>;
}

function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function buildLlamaLora(cfg: LlamaLoraConfig): LlamaLoraGraph {
  const g = new Graph();
  const { hidden: d, heads: h, batch: B, seq: S, rank: r } = cfg;
  const hd = d / h;
  const scaling = cfg.alpha / r;
  const shapes = new Map<string, { shape: number[]; kind: 'weight' | 'norm' | 'loraA' | 'loraB' }>();
  const param = (name: string, shape: number[], kind: 'weight' | 'norm' | 'loraA' | 'loraB', trainable = false) => {
    shapes.set(name, { shape, kind });
    return g.param(name, shape, { trainable });
  };

  const tokens = g.input('input_ids', [B, S], 'i32');
  const labels = g.input('labels', [B, S], 'i32');
  const { cos, sin } = ops.ropeTables(ops.arange(g, 0, S), hd, 10000);

  const linear = (x: Tensor, path: string, out: number, inp: number, lora: boolean) => {
    const y = ops.matmul(x, param(`${path}.weight`, [out, inp], 'weight'), { transB: true });
    if (!lora) return y;
    const a = param(`${path}.lora_A.weight`, [r, inp], 'loraA', true);
    const b = param(`${path}.lora_B.weight`, [out, r], 'loraB', true);
    const xa = cfg.loraDropout ? g.scope(path, () => ops.dropout(x, cfg.loraDropout!)) : x;
    const delta = ops.matmul(ops.matmul(xa, a, { transB: true }), b, { transB: true });
    return ops.add(y, ops.mul(delta, scaling));
  };
  const heads = (x: Tensor) => ops.transpose(ops.reshape(x, [B, S, h, hd]), [0, 2, 1, 3]);

  let x = ops.gather(param('model.embed_tokens.weight', [cfg.vocab, d], 'weight'), tokens, 0);
  for (let i = 0; i < cfg.blocks; i++) {
    const p = `model.layers.${i}`;
    const block = () =>
      g.scope(p, () => {
        const xn = ops.rmsNorm(x, param(`${p}.input_layernorm.weight`, [d], 'norm'));
        const q = ops.rope(heads(linear(xn, `${p}.self_attn.q_proj`, d, d, true)), cos, sin);
        const k = ops.rope(heads(linear(xn, `${p}.self_attn.k_proj`, d, d, true)), cos, sin);
        const v = heads(linear(xn, `${p}.self_attn.v_proj`, d, d, true));
        const att = ops.reshape(ops.transpose(ops.attention(q, k, v, { causal: true }), [0, 2, 1, 3]), [B, S, d]);
        const x1 = ops.add(x, linear(att, `${p}.self_attn.o_proj`, d, d, true));
        const xn2 = ops.rmsNorm(x1, param(`${p}.post_attention_layernorm.weight`, [d], 'norm'));
        const gate = ops.silu(linear(xn2, `${p}.mlp.gate_proj`, cfg.intermediate, d, false));
        const up = linear(xn2, `${p}.mlp.up_proj`, cfg.intermediate, d, false);
        return ops.add(x1, linear(ops.mul(gate, up), `${p}.mlp.down_proj`, d, cfg.intermediate, false));
      });
    x = cfg.segments ? g.segment(p, block) : block();
  }
  const logits = ops.matmul(ops.rmsNorm(x, param('model.norm.weight', [d], 'norm')), param('lm_head.weight', [cfg.vocab, d], 'weight'), { transB: true });
  const loss = ops.crossEntropy(logits, labels);
  g.output('loss', loss);
  const grads = cfg.forwardOnly ? new Map<string, Tensor>() : gradTrainable(loss);
  const trainable = [...g.params.values()].filter((p) => p.trainable).map((p) => p.name);
  const updates: Record<string, string> = {};
  for (const [name, gr] of grads) {
    g.output(`grad.${name}`, gr);
    if (cfg.sgdRate !== undefined) {
      g.output(`next.${name}`, ops.sub(g.paramTensor(name), ops.mul(gr, cfg.sgdRate)));
      updates[name] = `next.${name}`;
    }
  }
  return {
    graph: g,
    loss,
    trainable,
    outputs: ['loss', ...[...grads.keys()].map((n) => `grad.${n}`)],
    updates,
    values(seed) {
      const next = rand(seed);
      const out: Record<string, NDArray> = {};
      for (const [name, { shape, kind }] of shapes) {
        const fanIn = shape[shape.length - 1];
        const n = shape.reduce((p, q) => p * q, 1);
        const scale = kind === 'norm' ? 0.2 : kind === 'loraB' ? 0.5 / Math.sqrt(fanIn) : 1 / Math.sqrt(fanIn);
        out[name] = NDArray.from(shape, Float32Array.from({ length: n }, () => (kind === 'norm' ? 1 : 0) + scale * (2 * next() - 1)));
      }
      return out;
    },
    feeds(seed) {
      const next = rand(seed);
      const ids = () => Int32Array.from({ length: B * S }, () => Math.floor(next() * cfg.vocab));
      const lab = ids();
      lab[0] = -100;
      return { input_ids: NDArray.from([B, S], ids(), 'i32'), labels: NDArray.from([B, S], lab, 'i32') };
    },
  };
}
