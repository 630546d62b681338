import { describe, expect, it } from 'vitest';
import { LowrankError } from '@lowrank/core';
import { createWebGpuBackend, WebGpuUnavailableError } from './index.js';

describe('without a WebGPU adapter', () => {
  it('creating the backend throws WebGpuUnavailableError instead of falling back', async () => {
    // An environment whose navigator.gpu finds no adapter (a machine without GPU or Vulkan driver).
    const noAdapters = { requestAdapter: async () => null } as unknown as GPU;
    const err = await createWebGpuBackend({ gpu: noAdapters }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGpuUnavailableError);
    expect(err).toBeInstanceOf(LowrankError);
    expect((err as Error).message).toMatch(/requestAdapter\(\) returned no adapter/);
    expect((err as Error).message).toMatch(/lavapipe/);
  });

  it('a failing requestAdapter is reported the same way', async () => {
    const broken = {
      requestAdapter: async () => {
        throw new Error('Vulkan loader: no ICD');
      },
    } as unknown as GPU;
    await expect(createWebGpuBackend({ gpu: broken })).rejects.toThrow(/requestAdapter failed: Vulkan loader: no ICD/);
  });
});
