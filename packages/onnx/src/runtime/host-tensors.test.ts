import { SignatureError } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { fromOrtTensor, toOrtTensor } from './host-tensors.js';

// Generation feeds its KV cache (megabytes) on every decode step: these wrappers must not copy it.
describe('host tensor <-> ORT tensor', () => {
  it('a per-run f32 or i32 feed is wrapped, not copied; a kept parameter is copied', () => {
    const cache = new Float32Array(4 * 1024).map((_, i) => i);
    const fed = toOrtTensor({ shape: [4, 1024], dtype: 'f32', data: cache }, 'f32', 'past.0.k');
    expect(fed.data).toBe(cache);
    expect(fed.dims).toEqual([4, 1024]);
    const kept = toOrtTensor({ shape: [4, 1024], dtype: 'f32', data: cache }, 'f32', 'param', true);
    expect(kept.data).not.toBe(cache);
    expect(Array.from((kept.data as Float32Array).subarray(0, 4))).toEqual([0, 1, 2, 3]);
    const ids = Int32Array.of(7, 8);
    expect(toOrtTensor({ shape: [2], dtype: 'i32', data: ids }, 'i32', 'slots').data).toBe(ids);
  });

  it('a result is handed over without a copy unless it also stays resident', () => {
    const t = toOrtTensor({ shape: [3], dtype: 'f32', data: Float32Array.of(1, 2, 3) }, 'f32', 'x');
    expect(fromOrtTensor(t, 'f32').data).toBe(t.data);
    const copied = fromOrtTensor(t, 'f32', true);
    expect(copied.data).not.toBe(t.data);
    expect(Array.from(copied.data)).toEqual([1, 2, 3]);
  });

  it('a feed of the wrong dtype is refused with the name of the input', () => {
    expect(() => toOrtTensor({ shape: [1], dtype: 'i32', data: Int32Array.of(1) }, 'f32', "'past.0.k'")).toThrow(SignatureError);
    expect(() => toOrtTensor({ shape: [1], dtype: 'i32', data: Int32Array.of(1) }, 'f32', "'past.0.k'")).toThrow(/past\.0\.k/);
  });
});
