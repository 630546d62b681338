// Importing this module declares every op in the registry.
import './sources.js';
export * from './creation.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './shape-ops.js';
export * from './gather.js';
export * from './matmul.js';
export * from './random.js';
export * from './composites/activations.js';
export * from './composites/norms.js';
export * from './composites/rope.js';
export * from './composites/attention.js';
export * from './composites/cross-entropy.js';
export * from './composites/linear-log-sum-exp.js';
export * from './composites/linear-cross-entropy.js';
export * from './quant.js';
