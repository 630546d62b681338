import type { BenchModelConfig } from './config.js';

/**
 * Model FLOPs of one LoRA training step: the matmul work the step needs, not
 * what an implementation happens to execute (recomputation from checkpointing,
 * dequantization and DoRA's norms are overhead, not model work). Counted:
 * - forward: every linear (2·in·out per token), the LoRA factors, and attention
 *   scores and mixing over the full S×S square (every peer computes the masked
 *   square);
 * - backward: input gradients through every frozen linear, input and weight
 *   gradients of the LoRA factors, and both attention products twice.
 * Frozen weights get no weight gradient. Layer 0's q, k, v inputs come from the
 * frozen embedding, so their input gradient is not needed either.
 */
export interface StepFlops {
  readonly forward: number;
  readonly backward: number;
  readonly total: number;
}

export function loraStepFlops(c: BenchModelConfig): StepFlops {
  const tokens = c.batchSize * c.seqLen;
  const d = c.hiddenSize;
  const f = c.intermediateSize;
  const r = c.loraRank;
  const baseLinearPerLayer = 2 * (4 * d * d + 3 * d * f);
  const lmHead = 2 * d * c.vocabSize;
  const loraPerLayer = c.loraTargets.length * 2 * (d * r + r * d);
  const attentionPerLayer = 2 * 2 * c.seqLen * d; // QKᵀ and P·V, per token

  const linearFwd = tokens * (c.numLayers * baseLinearPerLayer + lmHead);
  const loraFwd = tokens * c.numLayers * loraPerLayer;
  const attnFwd = tokens * c.numLayers * attentionPerLayer;
  const forward = linearFwd + loraFwd + attnFwd;

  const unneededInputGrad = tokens * 2 * 3 * d * d; // layer 0's q, k, v from frozen embeddings
  const backward = linearFwd - unneededInputGrad + 2 * loraFwd + 2 * attnFwd;
  return { forward, backward, total: forward + backward };
}
