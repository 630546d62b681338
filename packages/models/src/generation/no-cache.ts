import { Graph, type Backend, type HostTensor } from '@lowrank/core';
import type { LanguageModel } from '../architectures/index.js';
import { GenerationError, type GenerateOptions, type GenerateResult } from './generator.js';
import { sampleToken, seededUniform, validateSampling } from './sampling.js';

/**
 * Generation that reruns the whole sequence each token (one graph of length
 * maxLength, right-padded, causal): slow, but free of any cache machinery,
 * which makes it the oracle for the cached path.
 */
export async function generateWithoutCache(
  model: LanguageModel,
  weights: ReadonlyMap<string, HostTensor>,
  backend: Backend,
  prompt: readonly number[],
  opts: GenerateOptions & { maxLength: number; encoderIds?: readonly number[] },
): Promise<GenerateResult> {
  validateSampling(opts);
  const L = opts.maxLength;
  if (prompt.length === 0 || prompt.length >= L) throw new GenerationError(`the prompt must have 1..${L - 1} tokens, got ${prompt.length}`);
  const g = new Graph();
  const inputIds = g.input('input_ids', [1, L], 'i32');
  const encoderIds = opts.encoderIds ? g.input('encoder_ids', [1, opts.encoderIds.length], 'i32') : undefined;
  g.output('logits', model.forward({ inputIds, ...(encoderIds ? { encoderIds } : {}) }).logits);
  const exe = await backend.compile(g);
  try {
    const params: Record<string, HostTensor> = {};
    for (const n of g.params.keys()) {
      const w = weights.get(n);
      if (!w) throw new GenerationError(`no weight for parameter '${n}'`);
      params[n] = w;
    }
    await exe.setParameters(params);
    const uniform = seededUniform(opts.seed ?? 0);
    const stops = new Set(opts.stopTokens ?? []);
    const seq = [...prompt];
    const tokens: number[] = [];
    const budget = Math.min(opts.maxNewTokens, L - prompt.length);
    while (tokens.length < budget) {
      const ids = Int32Array.from({ length: L }, (_, j) => seq[j] ?? 0);
      const feeds: Record<string, HostTensor> = { input_ids: { shape: [1, L], dtype: 'i32', data: ids } };
      if (opts.encoderIds) feeds.encoder_ids = { shape: [1, opts.encoderIds.length], dtype: 'i32', data: Int32Array.from(opts.encoderIds) };
      const out = await exe.run(feeds);
      const v = out.logits.shape[2];
      const row = (out.logits.data as Float32Array).subarray((seq.length - 1) * v, seq.length * v);
      const next = sampleToken(row, opts, uniform);
      tokens.push(next);
      seq.push(next);
      if (stops.has(next)) return { tokens, stopReason: 'stop' };
    }
    return { tokens, stopReason: 'length' };
  } finally {
    exe.dispose();
  }
}
