import { describe } from 'vitest';
import { describeNonFiniteSteps } from '@lowrank/conformance';
import { createWebGpuBackend } from './index.js';
import { SKIP_GPU } from './test-support/gpu.js';

// The in-graph finite check must hold on WebGPU shaders too, where NaN comparisons are easy to get wrong.
describe.skipIf(SKIP_GPU)('backend-webgpu', () => {
  describeNonFiniteSteps('backend-webgpu', () => createWebGpuBackend());
});
