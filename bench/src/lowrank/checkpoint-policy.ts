import { rematerialize, type CheckpointPolicy, type Graph } from '@lowrank/core';

/** The memory planner's figures for the compiled training graph, as the bench reports them. */
export interface PlannedMemory {
  readonly policy: string;
  readonly plannedPeakBytes: number;
  /** Activation bytes at the planned peak. */
  readonly activationBytesAtPeak: number;
  readonly activationPeakBytes: number;
  readonly recomputedSegments: number;
  readonly extraFlops: number;
}

/**
 * Applies a checkpoint policy (`none`, `sqrt`, `every:K`, `save-matmuls`,
 * `budget:BYTES`) to the training graph in place with core's remat pass, and
 * returns the planner's figures. The blocks must be checkpoint segments.
 */
export function applyCheckpointPolicy(graph: Graph, policy: string): PlannedMemory {
  const parsed: CheckpointPolicy = policy.startsWith('budget:') ? { budgetBytes: Number(policy.slice('budget:'.length)) } : (policy as CheckpointPolicy);
  const { checkpoint, memory } = rematerialize(graph, parsed);
  return {
    policy: checkpoint.policy,
    plannedPeakBytes: memory.plannedPeakBytes,
    activationBytesAtPeak: memory.atPeak.activations,
    activationPeakBytes: memory.categoryPeaks.activations,
    recomputedSegments: checkpoint.recomputedSegments,
    extraFlops: checkpoint.extraFlops,
  };
}
