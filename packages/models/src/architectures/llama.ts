import { Embedding, Linear, Module, ops, RMSNorm, type Tensor } from '@lowrank/core';
import type { LlamaConfig } from '../config/index.js';
import type { RopeTables } from '../nn/attend.js';
import { callChild, childOf } from '../nn/call.js';
import { cacheWriter, type CacheWriter, type LayerKv, type LayerKvUpdate } from '../nn/kv-cache.js';
import { LlamaAttention } from '../nn/llama-attention.js';
import { SwiGLUMLP } from '../nn/mlp.js';
import { ModuleList } from '../nn/module-list.js';
import { ropeTablesFor } from '../nn/rope-tables.js';
import { checkCache, checkIds, LanguageModel, positionsOf, type CacheLayout, type ForwardInputs, type ForwardOutput } from './causal-lm.js';
import { upcastF32 } from '../nn/base-storage.js';

/** One pre-norm LLaMA block: x + attn(norm(x)), then + mlp(norm(·)). */
export class LlamaDecoderLayer extends Module {
  constructor(c: LlamaConfig) {
    super();
    this.addModule(
      'self_attn',
      new LlamaAttention({ hidden: c.hidden_size, heads: c.num_attention_heads, kvHeads: c.num_key_value_heads, headDim: c.head_dim, bias: c.attention_bias }),
    );
    this.addModule('mlp', new SwiGLUMLP(c.hidden_size, c.intermediate_size, c.mlp_bias));
    this.addModule('input_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
    this.addModule('post_attention_layernorm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
  }

  forward(x: Tensor, rope: RopeTables, cache?: { layer: LayerKv; writer: CacheWriter }): { h: Tensor; kv?: LayerKvUpdate } {
    const attn = childOf<LlamaAttention>(this, 'self_attn');
    const normed = callChild(this, 'input_layernorm', x);
    const a = x.graph.at(attn.path, x.graph.currentSegments, () => attn.forward(normed, { rope, causal: true, ...(cache ? { cache } : {}) }));
    const h = ops.add(x, a.out);
    const out = ops.add(h, callChild(this, 'mlp', callChild(this, 'post_attention_layernorm', h)));
    return a.kv ? { h: out, kv: a.kv } : { h: out };
  }
}

/** The LLaMA trunk: embed_tokens, layers, norm. */
export class LlamaModel extends Module {
  constructor(c: LlamaConfig) {
    super();
    this.addModule('embed_tokens', new Embedding(c.vocab_size, c.hidden_size));
    this.addModule('layers', new ModuleList(Array.from({ length: c.num_hidden_layers }, () => new LlamaDecoderLayer(c))));
    this.addModule('norm', new RMSNorm(c.hidden_size, c.rms_norm_eps));
  }
}

/** transformers' LlamaForCausalLM: parameter names match its checkpoints. */
export class LlamaForCausalLM extends LanguageModel {
  constructor(readonly config: LlamaConfig) {
    super();
    this.addModule('model', new LlamaModel(config));
    if (!config.tie_word_embeddings) this.addModule('lm_head', new Linear(config.hidden_size, config.vocab_size, { bias: false }));
  }

  cacheLayout(): CacheLayout {
    const c = this.config;
    return { layers: c.num_hidden_layers, kvHeads: c.num_key_value_heads, headDim: c.head_dim, maxPositions: c.max_position_embeddings };
  }

  forward(inputs: ForwardInputs): ForwardOutput {
    const c = this.config;
    checkIds(inputs.inputIds);
    checkCache(inputs.cache, c.num_hidden_layers);
    const g = inputs.inputIds.graph;
    const trunk = childOf<LlamaModel>(this, 'model');
    const embed = childOf<Embedding>(trunk, 'embed_tokens');
    const positions = positionsOf(inputs);
    const rope = g.at(trunk.path, [], () => ropeTablesFor(positions, c.head_dim, c.rope_theta, c.rope_scaling));
    const writer = inputs.cache ? g.at(trunk.path, [], () => cacheWriter(positions, inputs.cache![0].k.shape[2])) : undefined;
    let h = callChild(trunk, 'embed_tokens', inputs.inputIds);
    const layers = childOf<ModuleList<LlamaDecoderLayer>>(trunk, 'layers');
    const kvs: LayerKvUpdate[] = [];
    for (let i = 0; i < layers.length; i++) {
      const layer = layers.item(i);
      const cache = inputs.cache && writer ? { layer: inputs.cache[i], writer } : undefined;
      const r = g.segment(layer.path, () => g.at(layer.path, g.currentSegments, () => layer.forward(h, rope, cache)));
      h = r.h;
      if (r.kv) kvs.push(r.kv);
    }
    const hidden = callChild(trunk, 'norm', h);
    const logits = this.children.has('lm_head')
      ? callChild(this, 'lm_head', hidden)
      : g.at('lm_head', [], () => ops.matmul(hidden, upcastF32(embed.table(g)), { transB: true }));
    return inputs.cache ? { logits, hidden, cache: kvs } : { logits, hidden };
  }
}
