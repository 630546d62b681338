/**
 * The one model and training step every implementation in the race runs.
 * LLaMA-shaped (RMSNorm, rotate-half RoPE, causal attention, SwiGLU MLP, untied
 * lm_head), frozen base, LoRA on q, k, v and o, AdamW on the adapter only.
 */
export interface BenchModelConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  readonly seqLen: number;
  readonly batchSize: number;
  readonly loraRank: number;
  readonly loraAlpha: number;
  readonly loraTargets: readonly LoraTarget[];
  readonly lr: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly adamEps: number;
}

export type LoraTarget = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj';

export const BENCH_MODEL: BenchModelConfig = {
  vocabSize: 4096,
  hiddenSize: 512,
  numLayers: 8,
  numHeads: 8,
  intermediateSize: 1376,
  ropeTheta: 10000,
  rmsNormEps: 1e-6,
  seqLen: 256,
  batchSize: 4,
  loraRank: 16,
  loraAlpha: 32,
  loraTargets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
  lr: 1e-3,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  adamEps: 1e-8,
};

/** Parameters of the base model (embeddings, all linears, norms). */
export function baseParameterCount(c: BenchModelConfig): number {
  const d = c.hiddenSize;
  const perLayer = 4 * d * d + 3 * d * c.intermediateSize + 2 * d;
  return 2 * c.vocabSize * d + c.numLayers * perLayer + d;
}

/** Trainable LoRA parameters: A [r, in] and B [out, r] per targeted projection. */
export function loraParameterCount(c: BenchModelConfig): number {
  return c.numLayers * c.loraTargets.length * 2 * c.loraRank * c.hiddenSize;
}

export function tokensPerStep(c: BenchModelConfig): number {
  return c.batchSize * c.seqLen;
}
