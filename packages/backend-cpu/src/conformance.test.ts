import { describeConformance } from '@lowrank/conformance';
import { createCpuBackend } from './index.js';

/*
 * The cross-backend suite on onnxruntime's CPU provider, with the conformance
 * package's float32 tolerance table (FLOAT32_TOLERANCES) unchanged: every op
 * forward and VJP, then whole LoRA training steps to 1e-4 relative.
 */
describeConformance('cpu', async () => createCpuBackend({ threads: 2 }));

// The same suite with every composite lowered through its expansion (no fused ORT kernels).
describeConformance('cpu (composites expanded)', async () => createCpuBackend({ threads: 2, fuse: false }), { trainingStep: false });
