export * from './errors.js';
export * from './types.js';
export * from './schedule.js';
export * from './optimizer.js';
export * from './train-graph.js';
export * from './trainer.js';
export type { StepGraphContext } from './step-graph-extension.js';
