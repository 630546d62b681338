import { describe, expect, it } from 'vitest';
import { createWebGpuBackend, requestAdapter, WebGpuAdapterConflictError } from './index.js';
import { SKIP_GPU } from './test-support/gpu.js';

// Under CI=true this runs even without an adapter, and fails: CI must provide lavapipe.
describe.skipIf(SKIP_GPU)('with a WebGPU adapter', () => {
  it('starts on the default adapter and reports it', async () => {
    const backend = await createWebGpuBackend();
    expect(backend.name).toBe('webgpu');
    expect(backend.adapterInfo.length).toBeGreaterThan(0);
    expect(backend.capabilities.residentParameters).toBe(true);
    expect([...backend.capabilities.fusedOps]).toContain('crossEntropy');
  });

  it('refuses a second, different adapter (tfjs holds one WebGPU device per process)', async () => {
    await createWebGpuBackend();
    const other = await requestAdapter();
    await expect(createWebGpuBackend({ adapter: other })).rejects.toBeInstanceOf(WebGpuAdapterConflictError);
  });
});
