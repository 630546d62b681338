export { Generator, GenerationError, type GenerateOptions, type GenerateResult, type GeneratorOptions, type GenerationTiming } from './generator.js';
export { generateWithoutCache } from './no-cache.js';
export { sampleToken, argmax, seededUniform, GenerationOptionsError, type SamplingOptions } from './sampling.js';
export type { CacheResidency } from './step-graph.js';
export type { TracedWeights } from './step-runner.js';
