import type { HostTensor } from '@lowrank/core';
import { Linear } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { adapterHyperparams, resolveLoraConfig } from '../config.js';
import { applyAdapters } from '../apply.js';
import { TinyNet } from '../test-support.js';
import { pruneLoraByMagnitude } from './magnitude.js';

describe('magnitude rank pruning of a LoRA adapter', () => {
  it('removes components with ||B[:,i]||·||A[i,:]|| below the threshold and keeps the delta of the rest exactly', () => {
    const net = new TinyNet({ proj: new Linear(3, 2, { bias: false }) });
    const config = { r: 3, lora_alpha: 6, target_modules: ['proj'] };
    applyAdapters(net, config);
    // Component magnitudes: 1·2 = 2, 0.1·0.1 = 0.01, 2·1 = 2 (norms of the rows of A and columns of B).
    const A: HostTensor = { shape: [3, 3], dtype: 'f32', data: Float32Array.of(1, 0, 0, 0, 0.1, 0, 0, 0, 2) };
    const B: HostTensor = { shape: [2, 3], dtype: 'f32', data: Float32Array.of(2, 0.1, 0, 0, 0, 1) };
    const out = pruneLoraByMagnitude(net, { 'proj.lora_A.weight': A, 'proj.lora_B.weight': B }, config, 0.1);
    expect(out.ranks).toEqual({ proj: 2 });
    expect(out.tensors['proj.lora_A.weight'].shape).toEqual([2, 3]);
    expect(Array.from(out.tensors['proj.lora_A.weight'].data)).toEqual([1, 0, 0, 0, 0, 2]);
    expect(Array.from(out.tensors['proj.lora_B.weight'].data)).toEqual([2, 0, 0, 1]);
    // rank_pattern shrinks r and alpha_pattern keeps the scale alpha / r = 2.
    const hp = adapterHyperparams(resolveLoraConfig(out.config), 'proj');
    expect(hp.r).toBe(2);
    expect(hp.scaling).toBeCloseTo(2, 12);
  });
});
