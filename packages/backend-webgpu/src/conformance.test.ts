import { describe } from 'vitest';
import { describeConformance } from '@lowrank/conformance';
import { createWebGpuBackend } from './index.js';
import { SKIP_GPU } from './test-support/gpu.js';

/**
 * The cross-backend suite on WebGPU (lavapipe in Node; SwiftShader or a GPU
 * elsewhere). Tolerances: the suite's float32 table (FLOAT32_TOLERANCES in
 * @lowrank/conformance, e.g. rtol 1e-4 / atol 1e-5 for transcendental ops,
 * softmax and matmul; 2e-4 / 1e-4 for attention and cross-entropy; integer and
 * boolean results exact). No override is needed on lavapipe: tfjs's kernels and
 * ours stay inside it, and the RNG is bit-identical.
 */
describe.skipIf(SKIP_GPU)('webgpu', () => {
  describeConformance('webgpu', () => createWebGpuBackend());
});
