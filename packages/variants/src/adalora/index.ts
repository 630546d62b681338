export { resolveAdaLoraConfig, budgetAt, type AdaLoraConfig, type ResolvedAdaLoraConfig } from './config.js';
export { AdaLoraLayer } from './layer.js';
export { applyAdaLora, setAdaLoraTraining, initialAdaLoraState, orthogonalRegularizer, type AppliedAdaLora } from './apply.js';
export { AdaLoraAllocator, adaLoraStepPlan, prunedAdaLoraState, type AdaLoraStepPlan, type BudgetRecord } from './allocator.js';
export { maskSingularValues, ranksOf, rankDistribution } from './masking.js';
