import { Embedding, LayerNorm, Linear, RMSNorm, rng, type Module } from '@lowrank/core';
import type { F32Tensor } from '../safetensors/index.js';

export interface InitOptions {
  seed?: number;
  /** Std of the normal init of Linear and Embedding weights (config.initializer_range). */
  std?: number;
  /** Per-parameter std override by full name (GPT-2 scales residual projections). */
  stdFor?: (name: string) => number | undefined;
}

/** Standard normal draws for one tensor, a pure function of (seed, name): adding a parameter never shifts the others. */
export function seededNormal(seed: number, name: string, n: number): Float32Array {
  const stream = rng.streamWord(seed, 0, rng.stringKey(name));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    // Box-Muller on two 24-bit uniforms, shifted off zero so log stays finite.
    const u1 = rng.uniformAt(stream, i) + 2 ** -25;
    const u2 = rng.uniformAt(stream, i + 1);
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/**
 * Random weights as transformers initialises them: Linear and Embedding
 * weights normal(0, std), biases zero, norm weights one and biases zero.
 */
export function initWeights(model: Module, opts: InitOptions = {}): Map<string, F32Tensor> {
  const seed = opts.seed ?? 0;
  const std = opts.std ?? 0.02;
  const out = new Map<string, F32Tensor>();
  for (const m of model.modules()) {
    for (const [local, spec] of m.localParams) {
      const name = m.path ? `${m.path}.${local}` : local;
      const n = spec.shape.reduce((p, d) => p * d, 1);
      let data: Float32Array;
      const isNorm = m instanceof RMSNorm || m instanceof LayerNorm;
      if (local === 'bias') data = new Float32Array(n);
      else if (isNorm) data = new Float32Array(n).fill(1);
      else if (m instanceof Linear || m instanceof Embedding || local === 'weight') {
        const s = opts.stdFor?.(name) ?? std;
        data = seededNormal(seed, name, n).map((v) => v * s);
      } else data = new Float32Array(n);
      out.set(name, { shape: [...spec.shape], dtype: 'f32', data });
    }
  }
  return out;
}
