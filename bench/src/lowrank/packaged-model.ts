import type { Graph, Tensor } from '@lowrank/core';
import { createModel, presetConfig, traceLanguageModel } from '@lowrank/models';
import { applyAdapters } from '@lowrank/variants';
import type { BenchModelConfig } from '../config.js';
import { IGNORE_INDEX } from '../weights.js';
import { BenchError } from '../errors.js';

/**
 * The same step built the way a lowrank user builds it: @lowrank/models'
 * `llama-bench` preset (vocab set to the bench's), @lowrank/variants'
 * `applyAdapters` with PEFT's LoraConfig, the Hugging Face causal-LM loss.
 */
export function buildPackagedForward(c: BenchModelConfig, variant: 'lora' | 'dora'): { graph: Graph; loss: Tensor } {
  const config = presetConfig('llama-bench', {
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numHeads,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
  });
  const { model } = createModel(config);
  applyAdapters(model, { r: c.loraRank, lora_alpha: c.loraAlpha, target_modules: [...c.loraTargets], lora_dropout: 0, use_dora: variant === 'dora' });
  const traced = traceLanguageModel(model, { batch: c.batchSize, seqLen: c.seqLen, withLoss: true });
  if (!traced.loss) throw new BenchError('traceLanguageModel returned no loss');
  return { graph: traced.graph, loss: traced.loss };
}

/**
 * The bench's labels (already shifted, last position ignored) as Hugging Face
 * labels, which the model shifts itself: one position to the right.
 */
export function toHfLabels(labels: Int32Array, batch: number, seqLen: number): Int32Array {
  const out = new Int32Array(labels.length);
  for (let b = 0; b < batch; b++) {
    out[b * seqLen] = IGNORE_INDEX;
    for (let s = 1; s < seqLen; s++) out[b * seqLen + s] = labels[b * seqLen + s - 1];
  }
  return out;
}
