import { LowrankError, seededUniform } from '@lowrank/core';

export class GenerationOptionsError extends LowrankError {}

export interface SamplingOptions {
  /** Sample instead of taking the argmax. Implied by temperature, topK or topP. */
  doSample?: boolean;
  /** Logits are divided by this before sampling (> 0). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 = off). */
  topP?: number;
}

/** Seeded host-side PRNG (mulberry32); one implementation in core. */
export { seededUniform };

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

export function validateSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature > 0)) throw new GenerationOptionsError(`temperature must be > 0, got ${o.temperature}; use greedy decoding for temperature 0`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw new GenerationOptionsError(`topK must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new GenerationOptionsError(`topP must be in (0, 1], got ${o.topP}`);
}

export function isSampling(o: SamplingOptions): boolean {
  return o.doSample ?? (o.temperature !== undefined || o.topK !== undefined || o.topP !== undefined);
}

/**
 * The next token from one row of logits, filtered as transformers does:
 * temperature, then top-k, then top-p (always keeping the most likely token).
 */
export function sampleToken(logits: ArrayLike<number>, o: SamplingOptions, uniform: () => number): number {
  if (!isSampling(o)) return argmax(logits);
  const t = o.temperature ?? 1;
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  let keep = order;
  if (o.topK && o.topK < keep.length) keep = keep.slice(0, o.topK);
  const max = logits[keep[0]] / t;
  let probs = keep.map((i) => Math.exp(logits[i] / t - max));
  let z = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / z);
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let cum = 0;
    let n = 0;
    while (n < probs.length && cum < topP) cum += probs[n++];
    keep = keep.slice(0, Math.max(1, n));
    probs = probs.slice(0, keep.length);
    z = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / z);
  }
  let u = uniform();
  for (let i = 0; i < keep.length; i++) {
    u -= probs[i];
    if (u < 0) return keep[i];
  }
  return keep[keep.length - 1];
}
