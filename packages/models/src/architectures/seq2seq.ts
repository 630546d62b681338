import { Embedding, GraphError, Linear, Module, ops, RMSNorm, type Tensor } from '@lowrank/core';
import type { Seq2SeqConfig } from '../config/index.js';
import type { RopeTables } from '../nn/attend.js';
import { callChild, childOf } from '../nn/call.js';
import { LlamaAttention, type AttentionShape } from '../nn/llama-attention.js';
import { SwiGLUMLP } from '../nn/mlp.js';
import { ModuleList } from '../nn/module-list.js';
import { checkIds, LanguageModel, positionsOf, type CacheLayout, type ForwardInputs, type ForwardOutput } from './causal-lm.js';
import { lmHeadOf } from '../nn/lm-head.js';

const attnShape = (c: Seq2SeqConfig): AttentionShape => ({
  hidden: c.hidden_size,
  heads: c.num_attention_heads,
  kvHeads: c.num_key_value_heads,
  headDim: c.head_dim,
  bias: false,
});

function runAttention(owner: Module, name: string, x: Tensor, call: Parameters<LlamaAttention['forward']>[1]): Tensor {
  const attn = childOf<LlamaAttention>(owner, name);
  return x.graph.at(attn.path, x.graph.currentSegments, () => attn.forward(x, call)).out;
}

/** Bidirectional encoder block (self-attention without a causal mask). */
export class EncoderLayer extends Module {
  constructor(c: Seq2SeqConfig) {
    super();
    this.addModule('self_attn', new LlamaAttention(attnShape(c)));
    this.addModule('mlp', new SwiGLUMLP(c.hidden_size, c.intermediate_size));
    this.addModule('input_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
    this.addModule('post_attention_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
  }

  forward(x: Tensor, rope: RopeTables): Tensor {
    const h = ops.add(x, runAttention(this, 'self_attn', callChild(this, 'input_layernorm', x), { rope, causal: false }));
    return ops.add(h, callChild(this, 'mlp', callChild(this, 'post_attention_layernorm', h)));
  }
}

/** Decoder block: causal self-attention, cross-attention over the encoder output (q from here, k/v from there), MLP. */
export class DecoderLayer extends Module {
  constructor(c: Seq2SeqConfig) {
    super();
    this.addModule('self_attn', new LlamaAttention(attnShape(c)));
    this.addModule('cross_attn', new LlamaAttention(attnShape(c)));
    this.addModule('mlp', new SwiGLUMLP(c.hidden_size, c.intermediate_size));
    this.addModule('input_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
    this.addModule('cross_attn_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
    this.addModule('post_attention_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
  }

  forward(x: Tensor, encoded: Tensor, rope: RopeTables): Tensor {
    let h = ops.add(x, runAttention(this, 'self_attn', callChild(this, 'input_layernorm', x), { rope, causal: true }));
    h = ops.add(h, runAttention(this, 'cross_attn', callChild(this, 'cross_attn_layernorm', h), { kvSource: encoded, causal: false }));
    return ops.add(h, callChild(this, 'mlp', callChild(this, 'post_attention_layernorm', h)));
  }
}

class Stack<L extends Module> extends Module {
  constructor(layers: L[], hidden: number, eps: number) {
    super();
    this.addModule('layers', new ModuleList(layers));
    this.addModule('norm', new RMSNorm(hidden, eps));
  }
}

class Seq2SeqTrunk extends Module {
  constructor(c: Seq2SeqConfig) {
    super();
    this.addModule('embed_tokens', new Embedding(c.vocab_size, c.hidden_size));
    this.addModule('encoder', new Stack(Array.from({ length: c.num_encoder_layers }, () => new EncoderLayer(c)), c.hidden_size, c.rms_norm_eps));
    this.addModule('decoder', new Stack(Array.from({ length: c.num_decoder_layers }, () => new DecoderLayer(c)), c.hidden_size, c.rms_norm_eps));
  }
}

/**
 * A small encoder-decoder LM: the encoder reads `encoderIds`, the decoder
 * predicts `inputIds` and attends to the encoder output in every block.
 * Cross-attention projections are `model.decoder.layers.N.cross_attn.{q,k,v,o}_proj`.
 */
export class LowrankSeq2SeqLM extends LanguageModel {
  constructor(readonly config: Seq2SeqConfig) {
    super();
    this.addModule('model', new Seq2SeqTrunk(config));
    if (!config.tie_word_embeddings) this.addModule('lm_head', new Linear(config.hidden_size, config.vocab_size, { bias: false }));
  }

  override get isEncoderDecoder(): boolean {
    return true;
  }

  cacheLayout(): CacheLayout {
    const c = this.config;
    return { layers: c.num_decoder_layers, kvHeads: c.num_key_value_heads, headDim: c.head_dim, maxPositions: c.max_position_embeddings };
  }

  forward(inputs: ForwardInputs): ForwardOutput {
    const c = this.config;
    checkIds(inputs.inputIds);
    if (!inputs.encoderIds) throw new GraphError('LowrankSeq2SeqLM.forward needs encoderIds (the source sequence)');
    checkIds(inputs.encoderIds, 'encoderIds');
    if (inputs.cache) throw new GraphError('LowrankSeq2SeqLM has no KV cache path; run it without a cache');
    const g = inputs.inputIds.graph;
    const trunk = childOf<Seq2SeqTrunk>(this, 'model');
    const ropeFor = (positions: Tensor) => g.at(trunk.path, [], () => ops.ropeTables(positions, c.head_dim, c.rope_theta));
    const encoder = childOf<Stack<EncoderLayer>>(trunk, 'encoder');
    const decoder = childOf<Stack<DecoderLayer>>(trunk, 'decoder');
    const encRope = ropeFor(ops.arange(g, 0, inputs.encoderIds.shape[1], 1, 'i32'));
    let e = callChild(trunk, 'embed_tokens', inputs.encoderIds);
    const encLayers = childOf<ModuleList<EncoderLayer>>(encoder, 'layers');
    for (let i = 0; i < encLayers.length; i++) {
      const layer = encLayers.item(i);
      e = g.segment(layer.path, () => g.at(layer.path, g.currentSegments, () => layer.forward(e, encRope)));
    }
    const encoded = callChild(encoder, 'norm', e);
    const decRope = ropeFor(positionsOf(inputs));
    let h = callChild(trunk, 'embed_tokens', inputs.inputIds);
    const decLayers = childOf<ModuleList<DecoderLayer>>(decoder, 'layers');
    for (let i = 0; i < decLayers.length; i++) {
      const layer = decLayers.item(i);
      h = g.segment(layer.path, () => g.at(layer.path, g.currentSegments, () => layer.forward(h, encoded, decRope)));
    }
    const hidden = callChild(decoder, 'norm', h);
    const embed = childOf<Embedding>(trunk, 'embed_tokens');
    const head = lmHeadOf(this, embed, g);
    return { logits: head.logits(hidden), hidden, head };
  }
}
