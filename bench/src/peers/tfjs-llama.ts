import * as tf from '@tensorflow/tfjs';
import type { BenchModelConfig } from '../config.js';
import { IGNORE_INDEX, layerPrefix, loraNames, type NamedTensor } from '../weights.js';
import { BenchError } from '../errors.js';

/**
 * The bench model as a TensorFlow.js user writes it: plain tensors for the
 * frozen base, tf.variable for the LoRA factors, tf.variableGrads for the
 * gradients, tf.train.adam plus decoupled weight decay for AdamW (tfjs has no
 * AdamW; the decay is applied before the Adam update as torch.optim.AdamW does).
 */
export class TfjsLlamaLora {
  private readonly frozen = new Map<string, tf.Tensor>();
  private readonly lora = new Map<string, tf.Variable>();
  private readonly inputIds: tf.Tensor;
  private readonly labelsOneHot: tf.Tensor;
  /** 0 where the label is IGNORE_INDEX: tf.losses then averages over the other tokens, as torch's ignore_index does. */
  private readonly labelWeights: tf.Tensor;
  private readonly cos: tf.Tensor;
  private readonly sin: tf.Tensor;
  private readonly mask: tf.Tensor;
  private readonly optimizer: tf.AdamOptimizer;

  constructor(
    private readonly c: BenchModelConfig,
    tensors: ReadonlyMap<string, NamedTensor>,
  ) {
    for (const [name, t] of tensors) {
      if (name === 'input_ids' || name === 'labels') continue;
      if (name.includes('.lora_')) this.lora.set(name, tf.variable(tf.tensor(t.data, [...t.shape], 'float32'), true, name));
      else this.frozen.set(name, tf.tensor(t.data, [...t.shape], 'float32'));
    }
    const ids = tensors.get('input_ids');
    const labels = tensors.get('labels');
    if (!ids || !labels) throw new BenchError('weights file lacks input_ids or labels');
    this.inputIds = tf.tensor(ids.data, [ids.data.length], 'int32');
    const kept = Int32Array.from(labels.data, (l) => (l === IGNORE_INDEX ? 0 : l));
    this.labelsOneHot = tf.oneHot(tf.tensor1d(kept, 'int32'), c.vocabSize);
    this.labelWeights = tf.tensor1d(Float32Array.from(labels.data, (l) => (l === IGNORE_INDEX ? 0 : 1)));
    const headDim = c.hiddenSize / c.numHeads;
    const { cos, sin } = ropeTables(c.seqLen, headDim, c.ropeTheta);
    this.cos = tf.tensor2d(cos, [c.seqLen, headDim]);
    this.sin = tf.tensor2d(sin, [c.seqLen, headDim]);
    const mask = new Float32Array(c.seqLen * c.seqLen);
    for (let i = 0; i < c.seqLen; i++) for (let j = i + 1; j < c.seqLen; j++) mask[i * c.seqLen + j] = -1e9;
    this.mask = tf.tensor2d(mask, [c.seqLen, c.seqLen]);
    this.optimizer = tf.train.adam(c.lr, c.beta1, c.beta2, c.adamEps);
  }

  /** One training step; returns the loss before the update (and the LoRA gradient norm on request). */
  async step(measureGradNorm = false): Promise<{ loss: number; gradNorm?: number }> {
    const { value, grads } = tf.variableGrads(() => this.loss());
    const loss = (await value.data())[0];
    let gradNorm: number | undefined;
    if (measureGradNorm) {
      gradNorm = Math.sqrt(
        tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0]),
      );
    }
    tf.tidy(() => {
      const decay = 1 - this.c.lr * this.c.weightDecay;
      for (const v of this.lora.values()) v.assign(tf.mul(v, decay));
    });
    this.optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
    tf.dispose([value, ...Object.values(grads)]);
    return gradNorm === undefined ? { loss } : { loss, gradNorm };
  }

  private loss(): tf.Scalar {
    const c = this.c;
    const tokens = c.batchSize * c.seqLen;
    let x = tf.gather(this.w('model.embed_tokens.weight'), this.inputIds); // [tokens, d]
    for (let i = 0; i < c.numLayers; i++) {
      const p = layerPrefix(i);
      const h = this.rmsNorm(x, `${p}.input_layernorm.weight`);
      x = tf.add(x, this.attention(h, i));
      const h2 = this.rmsNorm(x, `${p}.post_attention_layernorm.weight`);
      const gate = this.linear(h2, `${p}.mlp.gate_proj.weight`);
      const up = this.linear(h2, `${p}.mlp.up_proj.weight`);
      x = tf.add(x, this.linear(tf.mul(tf.mul(gate, tf.sigmoid(gate)), up), `${p}.mlp.down_proj.weight`));
    }
    const logits = this.linear(this.rmsNorm(x, 'model.norm.weight'), 'lm_head.weight');
    return tf.losses.softmaxCrossEntropy(this.labelsOneHot, tf.reshape(logits, [tokens, c.vocabSize]), this.labelWeights) as tf.Scalar;
  }

  private attention(h: tf.Tensor, layer: number): tf.Tensor {
    const c = this.c;
    const headDim = c.hiddenSize / c.numHeads;
    const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [c.batchSize, c.seqLen, c.numHeads, headDim]), [0, 2, 1, 3]);
    const proj = (name: string) => this.adapted(h, layer, name);
    const q = this.rope(split(proj('q_proj')));
    const k = this.rope(split(proj('k_proj')));
    const v = split(proj('v_proj'));
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim)), this.mask);
    const mixed = tf.matMul(tf.softmax(scores), v);
    const merged = tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [c.batchSize * c.seqLen, c.hiddenSize]);
    return this.adapted(merged, layer, 'o_proj');
  }

  private adapted(x: tf.Tensor, layer: number, target: string): tf.Tensor {
    const base = this.linear(x, `${layerPrefix(layer)}.self_attn.${target}.weight`);
    if (!(this.c.loraTargets as readonly string[]).includes(target)) return base;
    const { a, b } = loraNames(layer, target);
    const delta = tf.matMul(tf.matMul(x, this.loraVar(a), false, true), this.loraVar(b), false, true);
    return tf.add(base, tf.mul(delta, this.c.loraAlpha / this.c.loraRank));
  }

  private rope(x: tf.Tensor): tf.Tensor {
    const half = x.shape[3]! / 2;
    const [lo, hi] = tf.split(x, [half, half], 3);
    const rotated = tf.concat([tf.neg(hi), lo], 3);
    return tf.add(tf.mul(x, this.cos), tf.mul(rotated, this.sin));
  }

  private rmsNorm(x: tf.Tensor, weight: string): tf.Tensor {
    const inv = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), this.c.rmsNormEps));
    return tf.mul(tf.mul(x, inv), this.w(weight));
  }

  private linear(x: tf.Tensor, weight: string): tf.Tensor {
    return tf.matMul(x, this.w(weight), false, true);
  }

  private w(name: string): tf.Tensor {
    const t = this.frozen.get(name);
    if (!t) throw new BenchError(`tfjs peer: no frozen weight '${name}'`);
    return t;
  }

  private loraVar(name: string): tf.Variable {
    const t = this.lora.get(name);
    if (!t) throw new BenchError(`tfjs peer: no LoRA weight '${name}'`);
    return t;
  }
}

/** Hugging Face LLaMA rotary tables: frequencies duplicated across both halves. */
export function ropeTables(seqLen: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const cos = new Float32Array(seqLen * headDim);
  const sin = new Float32Array(seqLen * headDim);
  const half = headDim / 2;
  for (let s = 0; s < seqLen; s++) {
    for (let i = 0; i < half; i++) {
      const angle = s / Math.pow(theta, (2 * i) / headDim);
      for (const j of [i, i + half]) {
        cos[s * headDim + j] = Math.cos(angle);
        sin[s * headDim + j] = Math.sin(angle);
      }
    }
  }
  return { cos, sin };
}
