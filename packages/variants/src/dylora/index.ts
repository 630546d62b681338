export { applyDyLora, dyLoraScaleInput, dyLoraGradInput, type DyLora, type DyLoraMode } from './dylora.js';
export { dyLoraHook, type DyLoraHook } from './hook.js';
export { selectDyLoraRank, firstRows, firstCols } from './select.js';
export { AdaptiveRankScheduler, type AdaptiveRankOptions, type RankDecision } from './adaptive-rank.js';
export { sharedInput } from './graph-inputs.js';
