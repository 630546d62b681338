// A whole LoRA training step on a transformer-shaped graph: the loss and
// every trainable gradient a backend computes must agree with the reference.
import { Graph, gradTrainable, NDArray, numel, ops, type Tensor } from '@lowrank/core';
import { drawValues, seededRandom } from './random.js';

export interface TrainingStepModel {
  readonly graph: Graph;
  /** Every parameter's starting value (frozen and trainable), by PEFT-style name. */
  readonly params: Readonly<Record<string, NDArray>>;
  /** Runtime inputs: input_ids and labels. */
  readonly feeds: Readonly<Record<string, NDArray>>;
  readonly trainable: readonly string[];
  /** Output names: 'loss', 'grad.<param>' and, with an SGD rate, 'next.<param>' = p - lr·grad. */
  readonly outputs: readonly string[];
}

export interface TrainingStepOptions {
  readonly seed?: number;
  /** Adds 'next.<param>' outputs for an in-graph SGD update with this learning rate. */
  readonly sgdRate?: number;
}

const [BATCH, SEQ, VOCAB, DIM, HEADS, FFN, RANK] = [2, 5, 11, 8, 2, 12, 2];
const HEAD_DIM = DIM / HEADS;
const LORA_SCALE = 16 / RANK;

/**
 * One decoder block with LoRA on q_proj, v_proj and up_proj:
 * embedding (gather) → rmsNorm → attention (RoPE, causal) → residual →
 * rmsNorm → SiLU MLP → residual → rmsNorm → lm_head → cross-entropy (-100 ignored).
 * Base weights are frozen; LoRA A, B and the two block norms train.
 */
export function buildLoraTrainingStep(opts: TrainingStepOptions = {}): TrainingStepModel {
  const rand = seededRandom(opts.seed ?? 1234);
  const g = new Graph();
  const params: Record<string, NDArray> = {};
  const param = (name: string, shape: number[], trainable: boolean, init: 'random' | 'ones' = 'random', scale = 0.4): Tensor => {
    const values = init === 'ones' ? new Array<number>(numel(shape)).fill(1) : drawValues({ kind: 'uniform', lo: -scale, hi: scale }, numel(shape), 'f32', rand);
    params[name] = NDArray.from(shape, values);
    return g.param(name, shape, { trainable });
  };
  const L = 'base_model.model.model.layers.0';

  /** x·Wᵀ, plus s·(x·Aᵀ)·Bᵀ when the layer carries LoRA. B starts non-zero so that A gets a gradient. */
  const linear = (x: Tensor, path: string, outDim: number, inDim: number, lora: boolean): Tensor =>
    g.scope(path, () => {
      const w = param(`${path}.weight`, [outDim, inDim], false);
      const base = ops.matmul(x, w, { transB: true });
      if (!lora) return base;
      const a = param(`${path}.lora_A.weight`, [RANK, inDim], true);
      const b = param(`${path}.lora_B.weight`, [outDim, RANK], true, 'random', 0.2);
      return ops.add(base, ops.mul(ops.matmul(ops.matmul(x, a, { transB: true }), b, { transB: true }), LORA_SCALE));
    });

  const ids = g.input('input_ids', [BATCH, SEQ], 'i32');
  const labels = g.input('labels', [BATCH, SEQ], 'i32');
  const hidden = ops.gather(param('base_model.model.model.embed_tokens.weight', [VOCAB, DIM], false, 'random', 1), ids);
  const { cos, sin } = ops.ropeTables(ops.arange(g, 0, SEQ), HEAD_DIM, 10000);
  const heads = (t: Tensor) => ops.transpose(ops.reshape(t, [BATCH, SEQ, HEADS, HEAD_DIM]), [0, 2, 1, 3]);

  const attnIn = ops.rmsNorm(hidden, param(`${L}.input_layernorm.weight`, [DIM], true, 'ones'));
  const ctx = (() => {
    const q = ops.rope(heads(linear(attnIn, `${L}.self_attn.q_proj`, DIM, DIM, true)), cos, sin);
    const k = ops.rope(heads(linear(attnIn, `${L}.self_attn.k_proj`, DIM, DIM, false)), cos, sin);
    const v = heads(linear(attnIn, `${L}.self_attn.v_proj`, DIM, DIM, true));
    return ops.reshape(ops.transpose(ops.attention(q, k, v, { causal: true }), [0, 2, 1, 3]), [BATCH, SEQ, DIM]);
  })();
  const h1 = ops.add(hidden, linear(ctx, `${L}.self_attn.o_proj`, DIM, DIM, false));
  const mlpIn = ops.rmsNorm(h1, param(`${L}.post_attention_layernorm.weight`, [DIM], true, 'ones'));
  const up = ops.silu(linear(mlpIn, `${L}.mlp.up_proj`, FFN, DIM, true));
  const h2 = ops.add(h1, linear(up, `${L}.mlp.down_proj`, DIM, FFN, false));
  const normed = ops.rmsNorm(h2, param('base_model.model.model.norm.weight', [DIM], false, 'ones'));
  const logits = linear(normed, 'base_model.model.lm_head', VOCAB, DIM, false);
  const loss = ops.crossEntropy(logits, labels);

  g.output('loss', loss);
  const outputs = ['loss'];
  const grads = gradTrainable(loss);
  for (const [name, gr] of grads) {
    g.output(`grad.${name}`, gr);
    outputs.push(`grad.${name}`);
    if (opts.sgdRate !== undefined) {
      g.output(`next.${name}`, ops.sub(g.paramTensor(name), ops.mul(gr, opts.sgdRate)));
      outputs.push(`next.${name}`);
    }
  }

  const tokens = drawValues({ kind: 'int', lo: 0, hi: VOCAB - 1 }, BATCH * SEQ, 'i32', rand);
  // Next-token labels; the last position of each row is ignored.
  const targets = tokens.map((_, i) => (i % SEQ === SEQ - 1 ? -100 : tokens[i + 1]));
  return {
    graph: g,
    params,
    feeds: { input_ids: NDArray.from([BATCH, SEQ], tokens, 'i32'), labels: NDArray.from([BATCH, SEQ], targets, 'i32') },
    trainable: [...grads.keys()],
    outputs,
  };
}
