import { describeNonFiniteSteps } from '@lowrank/conformance';
import { createCpuBackend } from './index.js';

// The in-graph finite check must survive onnxruntime's graph optimizations (x·0 == 0 must not be folded away).
describeNonFiniteSteps('backend-cpu', () => createCpuBackend({ threads: 1 }));
