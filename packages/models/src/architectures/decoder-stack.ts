import { castScalar, Embedding, ops, type DType, type Module, type Tensor } from '@lowrank/core';
import type { RopeScaling } from '../config/index.js';
import type { RopeTables } from '../nn/attend.js';
import { callChild, childOf } from '../nn/call.js';
import { lmHeadOf } from '../nn/lm-head.js';
import { cacheWriter, type CacheWriter, type LayerKv, type LayerKvUpdate } from '../nn/kv-cache.js';
import type { ModuleList } from '../nn/module-list.js';
import { ropeTablesFor } from '../nn/rope-tables.js';
import { slidingWindowMask } from '../nn/sliding-window.js';
import { checkCache, checkIds, positionsOf, type ForwardInputs, type ForwardOutput, type LanguageModel } from './causal-lm.js';

/** What each decoder layer of a step reads besides its input. */
export interface DecoderLayerContext {
  rope: RopeTables;
  cache?: { layer: LayerKv; writer: CacheWriter };
  /** Additive [S, T] mask when this layer attends within a sliding window that the step can exceed. */
  windowMask?: Tensor;
}

export interface DecoderLayer extends Module {
  forward(x: Tensor, ctx: DecoderLayerContext): { h: Tensor; kv?: LayerKvUpdate };
}

/** How a LLaMA-like decoder differs from LLaMA at the level of the whole stack. */
export interface DecoderStackOptions {
  headDim: number;
  /** Dims of each head that RoPE rotates (Phi-3's partial_rotary_factor); default headDim. */
  rotaryDim?: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** Sliding window per layer (null: global attention). */
  layerWindows: readonly (number | null)[];
  /** Multiply the embeddings by sqrt(hidden) rounded to the hidden dtype, as Gemma does. */
  scaleEmbeddings?: boolean;
  /** cap · tanh(logits / cap) on the output logits (Gemma 2's final_logit_softcapping). */
  finalSoftcap?: number | null;
}

/**
 * Gemma's embedding scale sqrt(hidden) as transformers builds it: a tensor of
 * the hidden dtype, which is the checkpoint's dtype (bf16 rounds sqrt(3584)
 * = 59.87 to 59.75). lowrank computes in f32 and holds 16-bit base weights
 * as such, so the embedding's storage dtype stands for the hidden dtype.
 */
export function embeddingNormalizer(hidden: number, storage: DType): number {
  return castScalar(Math.sqrt(hidden), storage === 'bf16' || storage === 'f16' ? storage : 'f32');
}

/**
 * The forward of a `<Family>ForCausalLM` laid out as transformers' LLaMA:
 * model.embed_tokens, model.layers.N, model.norm, and lm_head or the tied
 * embedding table. Each layer is one checkpoint segment.
 */
export function decoderForward(lm: LanguageModel, inputs: ForwardInputs, o: DecoderStackOptions): ForwardOutput {
  checkIds(inputs.inputIds);
  checkCache(inputs.cache, o.layerWindows.length);
  const g = inputs.inputIds.graph;
  const trunk = childOf<Module>(lm, 'model');
  const embed = childOf<Embedding>(trunk, 'embed_tokens');
  const positions = positionsOf(inputs);
  const rope = g.at(trunk.path, [], () => ropeTablesFor(positions, o.rotaryDim ?? o.headDim, o.ropeTheta, o.ropeScaling));
  const cacheLength = inputs.cache ? inputs.cache[0].k.shape[2] : undefined;
  const writer = cacheLength !== undefined ? g.at(trunk.path, [], () => cacheWriter(positions, cacheLength)) : undefined;
  // One mask per distinct window, only where the keys can reach past it. A generation step
  // (cache.step) measures distance in cache slots, which differ from positions by a per-row constant.
  const step = inputs.cache?.[0].step;
  const keys = cacheLength ?? positions.shape[positions.rank - 1];
  const windowMasks = new Map<number, Tensor>();
  for (const w of new Set(o.layerWindows)) {
    if (w === null || keys <= w) continue;
    const queryPositions = step ? step.slots : positions;
    const keyPositions = cacheLength !== undefined ? ops.arange(g, 0, cacheLength, 1, 'i32') : positions;
    windowMasks.set(w, g.at(trunk.path, [], () => slidingWindowMask(queryPositions, keyPositions, w)));
  }
  let h = callChild(trunk, 'embed_tokens', inputs.inputIds);
  if (o.scaleEmbeddings) h = ops.mul(h, embeddingNormalizer(embed.dim, embed.localParams.get('weight')?.dtype ?? 'f32'));
  const layers = childOf<ModuleList<DecoderLayer>>(trunk, 'layers');
  const kvs: LayerKvUpdate[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers.item(i);
    const w = o.layerWindows[i];
    const mask = w === null ? undefined : windowMasks.get(w);
    const ctx: DecoderLayerContext = {
      rope,
      ...(inputs.cache && writer ? { cache: { layer: inputs.cache[i], writer } } : {}),
      ...(mask ? { windowMask: mask } : {}),
    };
    const r = g.segment(layer.path, () => g.at(layer.path, g.currentSegments, () => layer.forward(h, ctx)));
    h = r.h;
    if (r.kv) kvs.push(r.kv);
  }
  const hidden = callChild(trunk, 'norm', h);
  const head = lmHeadOf(lm, embed, g, o.finalSoftcap ?? null);
  const logits = head.logits(hidden);
  return inputs.cache ? { logits, hidden, cache: kvs, head } : { logits, hidden, head };
}
