/**
 * Checkpointing: segments, policies, the remat pass.
 *
 * How a backend keeps the recomputation (it must: the memory saving exists
 * only if the copies really run late, as separate computations):
 * - Every node the remat pass adds is a copy of a forward node and carries
 *   `recomputeOf` (the id of its original) in its NodeData. A backend must not
 *   merge such a node with its original or with another copy, even though op,
 *   attributes and inputs may be equal: no common-subexpression elimination,
 *   no hash-consing, no caching of results by (op, inputs) across them.
 * - ONNX Runtime's CommonSubexpressionElimination pass merges the copies back
 *   at every optimization level above `disabled`; backends on it must disable
 *   that optimizer (session option `disable_specified_optimizers`).
 * - Order-only constraints (`orderConstraintsOf`, honoured by `schedule`) say
 *   when the copies may start: after the cotangent that reaches their segment.
 *   A backend that executes nodes in its own order should follow `schedule`.
 * - Graph hashes must include `recomputeOf`, so a checkpointed graph does not
 *   share a compiled-executable cache entry with the plain one.
 */
export { checkpoint } from './checkpoint.js';
export { CheckpointError, CheckpointBudgetError } from './errors.js';
export { parsePolicy, describePolicy, type CheckpointPolicy, type ParsedPolicy } from './policy.js';
export { binomial, binomialRecomputations, BinomialSolver } from './binomial.js';
export { binomialPlan, groupPlan, keepAllPlan, saveMatmulsPlan, planRecomputations, type ChainPlan, type SegmentInstance } from './chain-plan.js';
export { collectSegments, type SegmentInfo } from './segments.js';
export { applyChainPlan, SAVED_BY_SAVE_MATMULS, type RematStats } from './remat.js';
export { cloneGraph } from './clone-graph.js';
export { rematerialize, planCheckpointPolicy, type CheckpointReport, type CheckpointedGraph } from './apply.js';
export { compileCheckpointed, type CheckpointedExecutable } from './compile.js';
