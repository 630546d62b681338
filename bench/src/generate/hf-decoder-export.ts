import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor } from '@lowrank/core';
import type { LanguageModel } from '@lowrank/models';
import { encodeModel, OnnxBuilder, ONNX_OPSET, type OnnxModel } from '@lowrank/onnx';
import { withSymbolicIo, type SymbolicValueInfo } from './onnx-value-info.js';

const FLOAT = 1;
const INT64 = 7;
const BOOL = 9;

interface LlamaShape {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  tie_word_embeddings: boolean;
}

/** W [out, in] as the [in, out] initializer a MatMul x·Wᵀ needs. */
function transposedInitializer(b: OnnxBuilder, name: string, w: HostTensor): string {
  const [out, inn] = w.shape;
  const src = w.data as Float32Array;
  const t = new Float32Array(out * inn);
  for (let o = 0; o < out; o++) for (let i = 0; i < inn; i++) t[i * out + o] = src[o * inn + i];
  return b.rawInitializer(`${name}.T`, FLOAT, [inn, out], new Uint8Array(t.buffer));
}

function plainInitializer(b: OnnxBuilder, name: string, w: HostTensor): string {
  const d = w.data as Float32Array;
  return b.rawInitializer(name, FLOAT, w.shape, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}

/**
 * The LLaMA decoder of a lowrank model as a "decoder with past" ONNX graph in
 * the layout transformers.js (and optimum's exports) run: inputs input_ids,
 * attention_mask, position_ids [batch, seq] int64 and past_key_values.N.key/value
 * [batch, kv heads, past, head dim]; outputs logits and present.N.key/value
 * (past and new keys concatenated). Dimensions are symbolic, as the peer
 * grows its cache by concatenation. Same weights, same arithmetic as lowrank's
 * CPU lowering (SimplifiedLayerNormalization, rotate-half RoPE, softmax attention).
 */
export function exportDecoderWithPast(model: LanguageModel, weights: ReadonlyMap<string, HostTensor>): Uint8Array {
  const c = model.config as unknown as LlamaShape;
  if (model.config.model_type !== 'llama') throw new Error(`only llama models are exported for the transformers.js peer, got ${model.config.model_type}`);
  if (c.num_attention_heads !== c.num_key_value_heads) throw new Error('grouped-query attention is not exported for the peer (kv heads must equal heads)');
  const w = (n: string) => {
    const t = weights.get(n);
    if (!t) throw new Error(`no weight '${n}'`);
    return t;
  };
  const b = new OnnxBuilder();
  const H = c.num_attention_heads;
  const D = c.head_dim;
  const eps = { kind: 'float', value: c.rms_norm_eps } as const;
  const norm = (x: string, name: string) => b.op('SimplifiedLayerNormalization', [x, plainInitializer(b, name, w(name))], { axis: -1, epsilon: eps });
  const linear = (x: string, name: string) => b.op('MatMul', [x, transposedInitializer(b, name, w(name))]);

  let x = b.op('Gather', [plainInitializer(b, 'model.embed_tokens.weight', w('model.embed_tokens.weight')), 'input_ids']);
  // RoPE tables [B, 1, S, D] from position_ids: freqs = pos ⊗ inv_freq, emb = [freqs, freqs].
  const invFreq = Array.from({ length: D / 2 }, (_, i) => 1 / Math.pow(c.rope_theta, (2 * i) / D));
  const pos = b.op('Unsqueeze', [b.op('Cast', ['position_ids'], { to: FLOAT }), b.int64s([-1])]);
  const freqs = b.op('Mul', [pos, b.constant(invFreq, [D / 2], FLOAT)]);
  const emb = b.op('Concat', [freqs, freqs], { axis: -1 });
  const cos = b.op('Unsqueeze', [b.op('Cos', [emb]), b.int64s([1])]);
  const sin = b.op('Unsqueeze', [b.op('Sin', [emb]), b.int64s([1])]);
  // Additive mask [B, 1, S, T]: causal over absolute slots (past + i) and the attention mask's padding.
  const seq = b.op('Gather', [b.op('Shape', ['input_ids']), b.scalar(1, INT64)]);
  const total = b.op('Gather', [b.op('Shape', ['attention_mask']), b.scalar(1, INT64)]);
  const past = b.op('Sub', [total, seq]);
  const queryAt = b.op('Range', [past, total, b.scalar(1, INT64)]);
  const keyAt = b.op('Range', [b.scalar(0, INT64), total, b.scalar(1, INT64)]);
  const causal = b.op('LessOrEqual', [b.op('Unsqueeze', [keyAt, b.int64s([0])]), b.op('Unsqueeze', [queryAt, b.int64s([1])])]);
  const real = b.op('Unsqueeze', [b.op('Cast', ['attention_mask'], { to: BOOL }), b.int64s([1, 2])]);
  const keep = b.op('And', [b.op('Unsqueeze', [causal, b.int64s([0, 1])]), real]);
  const mask = b.op('Where', [keep, b.scalar(0, FLOAT), b.scalar(-1e30, FLOAT)]);
  const rope = (t: string) => {
    const first = b.op('Slice', [t, b.int64s([0]), b.int64s([D / 2]), b.int64s([3])]);
    const second = b.op('Slice', [t, b.int64s([D / 2]), b.int64s([D]), b.int64s([3])]);
    const rotated = b.op('Concat', [b.op('Neg', [second]), first], { axis: 3 });
    return b.op('Add', [b.op('Mul', [t, cos]), b.op('Mul', [rotated, sin])]);
  };
  const heads = (t: string) => b.op('Transpose', [b.op('Reshape', [t, b.int64s([0, 0, H, D])])], { perm: [0, 2, 1, 3] });

  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    const h = norm(x, `${p}.input_layernorm.weight`);
    const q = rope(heads(linear(h, `${p}.self_attn.q_proj.weight`)));
    const k = rope(heads(linear(h, `${p}.self_attn.k_proj.weight`)));
    const v = heads(linear(h, `${p}.self_attn.v_proj.weight`));
    const kAll = b.op('Concat', [`past_key_values.${i}.key`, k], { axis: 2 }, { output: `present.${i}.key` });
    const vAll = b.op('Concat', [`past_key_values.${i}.value`, v], { axis: 2 }, { output: `present.${i}.value` });
    const scores = b.op('Add', [b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [kAll], { perm: [0, 1, 3, 2] })]), b.scalar(1 / Math.sqrt(D), FLOAT)]), mask]);
    const attn = b.op('MatMul', [b.op('Softmax', [scores], { axis: -1 }), vAll]);
    const merged = b.op('Reshape', [b.op('Transpose', [attn], { perm: [0, 2, 1, 3] }), b.int64s([0, 0, H * D])]);
    x = b.op('Add', [x, linear(merged, `${p}.self_attn.o_proj.weight`)]);
    const h2 = norm(x, `${p}.post_attention_layernorm.weight`);
    const gate = linear(h2, `${p}.mlp.gate_proj.weight`);
    const act = b.op('Mul', [b.op('Mul', [gate, b.op('Sigmoid', [gate])]), linear(h2, `${p}.mlp.up_proj.weight`)]);
    x = b.op('Add', [x, linear(act, `${p}.mlp.down_proj.weight`)]);
  }
  const head = c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  b.op('MatMul', [norm(x, 'model.norm.weight'), transposedInitializer(b, `${head}.head`, w(head))], {}, { output: 'logits' });

  const onnx: OnnxModel = {
    graph: { name: 'lowrank_decoder_with_past', nodes: b.nodes, initializers: b.initializers, inputs: [], outputs: [] },
    opsets: { '': ONNX_OPSET },
    irVersion: 8,
    producer: 'lowrank bench',
  };
  const kvDims = (len: string) => ['batch_size', c.num_key_value_heads, len, D];
  const inputs: SymbolicValueInfo[] = [
    { name: 'input_ids', elemType: INT64, dims: ['batch_size', 'sequence_length'] },
    { name: 'attention_mask', elemType: INT64, dims: ['batch_size', 'total_sequence_length'] },
    { name: 'position_ids', elemType: INT64, dims: ['batch_size', 'sequence_length'] },
  ];
  const outputs: SymbolicValueInfo[] = [{ name: 'logits', elemType: FLOAT, dims: ['batch_size', 'sequence_length', c.vocab_size] }];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    for (const kv of ['key', 'value']) {
      inputs.push({ name: `past_key_values.${i}.${kv}`, elemType: FLOAT, dims: kvDims('past_sequence_length') });
      outputs.push({ name: `present.${i}.${kv}`, elemType: FLOAT, dims: kvDims('total_sequence_length') });
    }
  }
  return withSymbolicIo(encodeModel(onnx), inputs, outputs);
}

/** A model folder transformers.js loads offline: config.json, generation_config.json, onnx/model.onnx. */
export function writeTransformersJsFolder(dir: string, model: LanguageModel, onnx: Uint8Array): void {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  // No eos: both sides generate exactly the requested number of tokens.
  const config = { ...model.config, eos_token_id: null, pad_token_id: 0, use_cache: true };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 256, pad_token_id: 0 }, null, 2));
  writeFileSync(join(dir, 'onnx', 'model.onnx'), onnx);
}
