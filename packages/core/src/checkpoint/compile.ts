import type { Backend, Executable, Signature } from '../backend/backend.js';
import type { Graph } from '../graph/graph.js';
import type { MemoryPlan } from '../memory/planner.js';
import { planCheckpointPolicy, rematerialize, type CheckpointReport } from './apply.js';
import type { CheckpointPolicy } from './policy.js';

export interface CheckpointedExecutable {
  readonly executable: Executable;
  /** What the policy did: recomputed segments and ops, extra FLOPs, budget figures. */
  readonly checkpoint: CheckpointReport;
  /** The planner's view of the graph as compiled (after the remat pass). */
  readonly memory: MemoryPlan;
  /** The graph that was compiled: the caller's (in place) or the rewritten copy. */
  readonly graph: Graph;
}

/**
 * The one place a checkpoint policy meets a backend: the remat pass rewrites
 * the graph (a copy, unless `inPlace`), then the backend compiles the result.
 * Backends never apply a policy themselves; they only must not undo it (see
 * the notes in ./index.ts). The roots are the signature's outputs and update
 * sources, so everything the executable computes keeps its value exactly.
 */
export async function compileCheckpointed(
  backend: Backend,
  graph: Graph,
  signature: Signature,
  policy: CheckpointPolicy = 'none',
  opts: { readonly inPlace?: boolean } = {},
): Promise<CheckpointedExecutable> {
  const roots = [...new Set([...(signature.outputs ?? [...graph.outputs.keys()]), ...Object.values(signature.updates ?? {})])];
  const planned = opts.inPlace ? { graph, ...rematerialize(graph, policy, roots) } : planCheckpointPolicy(graph, policy, roots);
  const executable = await backend.compile(planned.graph, signature);
  return { executable, checkpoint: planned.checkpoint, memory: planned.memory, graph: planned.graph };
}
