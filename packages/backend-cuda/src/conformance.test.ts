import { describe, it } from 'vitest';
import { describeConformance } from '@lowrank/conformance';
import { createCudaBackend, isCudaProviderInstalled } from './index.js';

// The cross-backend suite runs on CUDA only where the provider is installed (see cuda-backend.test.ts).
if (isCudaProviderInstalled()) {
  describeConformance('cuda', async () => createCudaBackend());
} else {
  describe('conformance: cuda', () => {
    it.skip('skipped: the onnxruntime-node CUDA provider is not installed on this machine', () => {});
  });
}
