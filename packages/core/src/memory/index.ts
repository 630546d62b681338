export { planMemory, valueBytes, type MemoryPlan, type MemoryBreakdown, type PlanOptions } from './planner.js';
export { expansionScratchBytes } from './expansion-scratch.js';
export { classifyValues, isOptimizerStateName, MEMORY_CATEGORIES, OPTIMIZER_STATE_PREFIXES, type MemoryCategory } from './classify.js';
