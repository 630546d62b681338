export { Generator, GenerationError, type GenerateOptions, type GenerateResult, type GeneratorOptions } from './generator.js';
export { generateWithoutCache } from './no-cache.js';
export { sampleToken, argmax, seededUniform, GenerationOptionsError, type SamplingOptions } from './sampling.js';
