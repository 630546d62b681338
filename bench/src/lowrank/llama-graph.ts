import { checkpoint, Graph, ops, type Tensor } from '@lowrank/core';
import type { BenchModelConfig } from '../config.js';
import { layerPrefix, loraNames } from '../weights.js';
import { NF4_BLOCK } from './nf4.js';

export type BenchVariant = 'lora' | 'dora' | 'qlora';

export interface LlamaGraphOptions {
  readonly variant: BenchVariant;
  /** QLoRA only: absmax constants double-quantized (8-bit, blocks of 256). */
  readonly doubleQuant?: boolean;
  /** Wrap each decoder block in checkpoint segment `model.layers.<i>`, for a checkpoint policy to act on. */
  readonly segments?: boolean;
}

/** Names of the extra frozen tensors a QLoRA base layer keeps instead of `<path>.weight`. */
export function nf4Names(path: string): { codes: string; absmax: string; absmaxCodes: string; absmaxScale: string; absmaxOffset: string } {
  return {
    codes: `${path}.weight.nf4_codes`,
    absmax: `${path}.weight.absmax`,
    absmaxCodes: `${path}.weight.absmax_codes`,
    absmaxScale: `${path}.weight.absmax_scale`,
    absmaxOffset: `${path}.weight.absmax_offset`,
  };
}

export const doraMagnitudeName = (path: string): string => `${path}.lora_magnitude_vector`;

/** Linears whose base weight QLoRA stores in NF4 (embeddings and lm_head stay f32, as bitsandbytes leaves them). */
export const QUANTIZED_LINEARS = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

/**
 * The bench model's forward and loss as a lowrank graph, parameters named as
 * Hugging Face and PEFT name them. Returns the loss tensor.
 */
export function buildLlamaForward(c: BenchModelConfig, opts: LlamaGraphOptions): { graph: Graph; loss: Tensor } {
  const g = new Graph();
  const d = c.hiddenSize;
  const hd = d / c.numHeads;
  const [B, S] = [c.batchSize, c.seqLen];
  const scaling = c.loraAlpha / c.loraRank;
  const tokens = g.input('input_ids', [B, S], 'i32');
  const labels = g.input('labels', [B, S], 'i32');
  const { cos, sin } = ops.ropeTables(ops.arange(g, 0, S), hd, c.ropeTheta);

  const baseMatmul = (x: Tensor, path: string, out: number, inp: number): Tensor => {
    const quantized = opts.variant === 'qlora' && QUANTIZED_LINEARS.some((l) => path.endsWith(l));
    if (!quantized) return ops.matmul(x, g.param(`${path}.weight`, [out, inp]), { transB: true });
    const n = nf4Names(path);
    const blocks = (out * inp) / NF4_BLOCK;
    const codes = g.param(n.codes, [(out * inp) / 2], { dtype: 'u8' });
    const absmax = opts.doubleQuant
      ? ops.dequantizeDynamic8(
          g.param(n.absmaxCodes, [blocks], { dtype: 'u8' }),
          g.param(n.absmaxScale, [Math.ceil(blocks / 256)]),
          g.param(n.absmaxOffset, []),
        )
      : g.param(n.absmax, [blocks]);
    return ops.matmulNf4(x, codes, absmax, { shape: [out, inp] });
  };

  const linear = (x: Tensor, path: string, out: number, inp: number, adapted: boolean): Tensor => {
    const y = baseMatmul(x, path, out, inp);
    if (!adapted) return y;
    const a = g.param(`${path}.lora_A.weight`, [c.loraRank, inp], { trainable: true });
    const b = g.param(`${path}.lora_B.weight`, [out, c.loraRank], { trainable: true });
    const delta = ops.mul(ops.matmul(ops.matmul(x, a, { transB: true }), b, { transB: true }), scaling);
    if (opts.variant !== 'dora') return ops.add(y, delta);
    // PEFT DoRA: m / ||W + s·B·A||_row (norm detached) scales base and LoRA outputs alike.
    const w = g.paramTensor(`${path}.weight`);
    const merged = ops.add(w, ops.mul(ops.matmul(b, a), scaling));
    const norm = ops.stopGradient(ops.sqrt(ops.sum(ops.mul(merged, merged), [1])));
    const magnitude = g.param(doraMagnitudeName(path), [out], { trainable: true });
    return ops.mul(ops.add(y, delta), ops.div(magnitude, norm));
  };
  const heads = (x: Tensor) => ops.transpose(ops.reshape(x, [B, S, c.numHeads, hd]), [0, 2, 1, 3]);
  const targets = new Set<string>(c.loraTargets);

  let x = ops.gather(g.param('model.embed_tokens.weight', [c.vocabSize, d]), tokens, 0);
  for (let i = 0; i < c.numLayers; i++) {
    const p = layerPrefix(i);
    const attnPath = (t: string) => `${p}.self_attn.${t}`;
    const block = () =>
      g.scope(p, () => {
        const xn = ops.rmsNorm(x, g.param(`${p}.input_layernorm.weight`, [d]), c.rmsNormEps);
        const proj = (t: string, input: Tensor) => linear(input, attnPath(t), d, d, targets.has(t));
        const q = ops.rope(heads(proj('q_proj', xn)), cos, sin);
        const k = ops.rope(heads(proj('k_proj', xn)), cos, sin);
        const v = heads(proj('v_proj', xn));
        const att = ops.reshape(ops.transpose(ops.attention(q, k, v, { causal: true }), [0, 2, 1, 3]), [B, S, d]);
        const x1 = ops.add(x, proj('o_proj', att));
        const xn2 = ops.rmsNorm(x1, g.param(`${p}.post_attention_layernorm.weight`, [d]), c.rmsNormEps);
        const gate = ops.silu(linear(xn2, `${p}.mlp.gate_proj`, c.intermediateSize, d, false));
        const up = linear(xn2, `${p}.mlp.up_proj`, c.intermediateSize, d, false);
        return ops.add(x1, linear(ops.mul(gate, up), `${p}.mlp.down_proj`, d, c.intermediateSize, false));
      });
    x = opts.segments ? checkpoint(g, p, block) : block();
  }
  const normed = ops.rmsNorm(x, g.param('model.norm.weight', [d]), c.rmsNormEps);
  const logits = ops.matmul(normed, g.param('lm_head.weight', [c.vocabSize, d]), { transB: true });
  return { graph: g, loss: ops.crossEntropy(logits, labels) };
}

export { loraNames };
