import { buildTrainGraph, planCheckpointPolicy, type CheckpointPolicy, type ForwardGraph, describePolicy } from '@lowrank/core';

export interface PolicyMemory {
  readonly policy: string;
  readonly peakBytes: number;
  readonly activationBytes: number;
  readonly recomputedOps: number;
  readonly extraFlops: number;
}

export const INFO_POLICIES: readonly CheckpointPolicy[] = ['none', 'sqrt', 'every:1', 'save-matmuls'];

/** Planned peak memory of one AdamW training step under each checkpoint policy (the memory planner's figures). */
export function plannedMemoryByPolicy(build: () => ForwardGraph, policies: readonly CheckpointPolicy[] = INFO_POLICIES): PolicyMemory[] {
  const { graph, loss } = build();
  const tg = buildTrainGraph(graph, loss, { optimizer: { kind: 'adamw', lr: 1e-3 } });
  const roots = [...new Set([...(tg.signature.outputs ?? []), ...Object.values(tg.signature.updates ?? {})])];
  return policies.map((policy) => {
    const { checkpoint, memory } = planCheckpointPolicy(tg.graph, policy, roots);
    return {
      policy: describePolicy(policy),
      peakBytes: memory.plannedPeakBytes,
      activationBytes: memory.atPeak.activations,
      recomputedOps: checkpoint.recomputedOps,
      extraFlops: checkpoint.extraFlops,
    };
  });
}
