import { GraphError, Module, ops, type Tensor } from '@lowrank/core';
import type { ModelConfig } from '../config/index.js';
import type { LayerKv, LayerKvUpdate } from '../nn/kv-cache.js';
import type { LmHead } from '../nn/lm-head.js';

/** What a traced forward pass reads. */
export interface ForwardInputs {
  /** Token ids, i32 [B, S]. */
  inputIds: Tensor;
  /** Positions of the S tokens, i32 [S] or per row [B, S]; default 0..S-1. */
  positions?: Tensor;
  /**
   * A static-length KV cache: per layer k, v [B, KV heads, L, D]. This step's
   * keys and values are written at `positions`; attention reads slots ≤ each position.
   */
  cache?: readonly LayerKv[];
  /** Encoder token ids i32 [B, T] (encoder-decoder models only). */
  encoderIds?: Tensor;
}

export interface ForwardOutput {
  /** [B, S, vocab]. */
  logits: Tensor;
  /** Final hidden states after the last norm, [B, S, hidden]. */
  hidden: Tensor;
  /** The updated cache (and this step's own keys and values), when one was given. */
  cache?: LayerKvUpdate[];
  /** The output layer that made `logits` from `hidden`: a loss can run it chunked, generation on one position. */
  head?: LmHead;
}

/** Shape of the KV cache of a model. */
export interface CacheLayout {
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Longest sequence the model's positions allow. */
  maxPositions: number;
}

/** A language model whose parameters carry Hugging Face's names. */
export abstract class LanguageModel extends Module {
  abstract readonly config: ModelConfig;
  abstract forward(inputs: ForwardInputs): ForwardOutput;
  abstract cacheLayout(): CacheLayout;
  /** Whether forward reads a second sequence (`encoderIds`). */
  get isEncoderDecoder(): boolean {
    return false;
  }
  /** Whether forward accepts `cache` (decoder-only models). */
  get supportsCache(): boolean {
    return !this.isEncoderDecoder;
  }
  /**
   * Gemma 2's final_logit_softcapping: forward's logits are already capped
   * (cap · tanh(z / cap)); a head that computes logits itself must apply it too.
   */
  get finalLogitSoftcap(): number | null {
    return null;
  }
  /** Attaches the trunk as `model` and, when given, the output layer as `lm_head` (transformers' layout). */
  protected addTrunk(model: Module, lmHead?: Module): void {
    this.addModule('model', model);
    if (lmHead) this.addModule('lm_head', lmHead);
  }
}

/** The given positions, or 0..S-1. */
export function positionsOf(inputs: ForwardInputs): Tensor {
  const s = inputs.inputIds.shape[1];
  if (inputs.positions) {
    const p = inputs.positions;
    // [B, S]: per-row positions (generation of left-padded rows).
    const perRow = p.rank === 2 && p.shape[0] === inputs.inputIds.shape[0] && p.shape[1] === s;
    if (p.dtype !== 'i32' || !(perRow || (p.rank === 1 && p.shape[0] === s))) {
      throw new GraphError(`positions must be i32 [${s}] (one per token) or [batch, ${s}] (one per row and token), got ${inputs.positions}`);
    }
    return inputs.positions;
  }
  return ops.arange(inputs.inputIds.graph, 0, s, 1, 'i32');
}

export function checkIds(ids: Tensor, what = 'inputIds'): void {
  if (ids.dtype !== 'i32' || ids.rank !== 2) throw new GraphError(`${what} must be i32 [batch, seq], got ${ids}`);
}

export function checkCache(cache: readonly LayerKv[] | undefined, layers: number): void {
  if (cache && cache.length !== layers) throw new GraphError(`cache has ${cache.length} layers, the model has ${layers}`);
}
