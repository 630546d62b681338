export { Module, type ParamSpec } from './module.js';
export { Linear, type LinearOptions } from './linear.js';
export { Embedding } from './embedding.js';
export { LayerNorm, RMSNorm } from './norm.js';
