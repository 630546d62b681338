import { Embedding, LayerNorm, Linear, Module, ops, type Tensor } from '@lowrank/core';
import type { GPT2Config } from '../config/index.js';
import { callChild, childOf } from '../nn/call.js';
import { GPT2Attention } from '../nn/gpt2-attention.js';
import { cacheWriter, type CacheWriter, type LayerKv, type LayerKvUpdate } from '../nn/kv-cache.js';
import { GeluMLP } from '../nn/mlp.js';
import { ModuleList } from '../nn/module-list.js';
import { checkCache, checkIds, LanguageModel, positionsOf, type CacheLayout, type ForwardInputs, type ForwardOutput } from './causal-lm.js';
import { lmHeadOf } from '../nn/lm-head.js';

/** One pre-norm GPT-2 block: x + attn(ln_1(x)), then + mlp(ln_2(·)). */
export class GPT2Block extends Module {
  constructor(c: GPT2Config, layerIndex: number) {
    super();
    const headDim = c.n_embd / c.n_head;
    let scale = c.scale_attn_weights ? 1 / Math.sqrt(headDim) : 1;
    if (c.scale_attn_by_inverse_layer_idx) scale /= layerIndex + 1;
    this.addModule('ln_1', new LayerNorm(c.n_embd, c.layer_norm_epsilon));
    this.addModule('attn', new GPT2Attention(c.n_embd, c.n_head, scale));
    this.addModule('ln_2', new LayerNorm(c.n_embd, c.layer_norm_epsilon));
    this.addModule('mlp', new GeluMLP(c.n_embd, c.n_inner ?? 4 * c.n_embd, c.activation_function));
  }

  forward(x: Tensor, cache?: { layer: LayerKv; writer: CacheWriter }): { h: Tensor; kv?: LayerKvUpdate } {
    const attn = childOf<GPT2Attention>(this, 'attn');
    const normed = callChild(this, 'ln_1', x);
    const a = x.graph.at(attn.path, x.graph.currentSegments, () => attn.forward(normed, { causal: true, ...(cache ? { cache } : {}) }));
    const h = ops.add(x, a.out);
    const out = ops.add(h, callChild(this, 'mlp', callChild(this, 'ln_2', h)));
    return a.kv ? { h: out, kv: a.kv } : { h: out };
  }
}

/** The GPT-2 trunk: wte, wpe, h, ln_f. */
export class GPT2Model extends Module {
  constructor(c: GPT2Config) {
    super();
    this.addModule('wte', new Embedding(c.vocab_size, c.n_embd));
    this.addModule('wpe', new Embedding(c.n_positions, c.n_embd));
    this.addModule('h', new ModuleList(Array.from({ length: c.n_layer }, (_, i) => new GPT2Block(c, i))));
    this.addModule('ln_f', new LayerNorm(c.n_embd, c.layer_norm_epsilon));
  }
}

/** transformers' GPT2LMHeadModel: Conv1D weights stay [in, out] under their own names. */
export class GPT2LMHeadModel extends LanguageModel {
  constructor(readonly config: GPT2Config) {
    super();
    this.addModule('transformer', new GPT2Model(config));
    if (!config.tie_word_embeddings) this.addModule('lm_head', new Linear(config.n_embd, config.vocab_size, { bias: false }));
  }

  cacheLayout(): CacheLayout {
    const c = this.config;
    return { layers: c.n_layer, kvHeads: c.n_head, headDim: c.n_embd / c.n_head, maxPositions: c.n_positions };
  }

  forward(inputs: ForwardInputs): ForwardOutput {
    const c = this.config;
    checkIds(inputs.inputIds);
    checkCache(inputs.cache, c.n_layer);
    const g = inputs.inputIds.graph;
    const trunk = childOf<GPT2Model>(this, 'transformer');
    const positions = positionsOf(inputs);
    const writer = inputs.cache ? g.at(trunk.path, [], () => cacheWriter(positions, inputs.cache![0].k.shape[2])) : undefined;
    let h = ops.add(callChild(trunk, 'wte', inputs.inputIds), callChild(trunk, 'wpe', positions));
    const blocks = childOf<ModuleList<GPT2Block>>(trunk, 'h');
    const kvs: LayerKvUpdate[] = [];
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks.item(i);
      const cache = inputs.cache && writer ? { layer: inputs.cache[i], writer } : undefined;
      const r = g.segment(block.path, () => g.at(block.path, g.currentSegments, () => block.forward(h, cache)));
      h = r.h;
      if (r.kv) kvs.push(r.kv);
    }
    const hidden = callChild(trunk, 'ln_f', h);
    const wte = childOf<Embedding>(trunk, 'wte');
    const head = lmHeadOf(this, wte, g);
    const logits = head.logits(hidden);
    return inputs.cache ? { logits, hidden, cache: kvs, head } : { logits, hidden, head };
  }
}
