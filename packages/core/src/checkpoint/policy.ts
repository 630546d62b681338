import { CheckpointError } from './errors.js';

/**
 * Which checkpoint segments drop their internals, chosen at compile time.
 * - `none`: keep everything (fastest, most memory).
 * - `every:K`: store the input of every K-th segment; before the backward of
 *   a group of K segments, recompute the group (Chen et al. 2016).
 * - `sqrt`: `every:K` with K = round(√n) for n segments: O(√n) memory for
 *   one extra forward.
 * - `save-matmuls`: every segment but the last recomputes its elementwise
 *   work before its backward but keeps matmul and attention outputs.
 * - `{ budgetBytes }`: the fewest recomputations whose planned peak fits the
 *   budget: binomial checkpointing (optimal for chains) over the number of
 *   stored segment inputs; see `planCheckpointPolicy`.
 */
export type CheckpointPolicy = 'none' | 'sqrt' | 'save-matmuls' | `every:${number}` | { readonly budgetBytes: number };

export type ParsedPolicy =
  | { readonly kind: 'none' }
  | { readonly kind: 'sqrt' }
  | { readonly kind: 'save-matmuls' }
  | { readonly kind: 'every'; readonly k: number }
  | { readonly kind: 'budget'; readonly budgetBytes: number };

const HELP = `use 'none', 'sqrt', 'save-matmuls', 'every:K' with an integer K >= 1, or { budgetBytes: N } with N > 0`;

export function parsePolicy(policy: CheckpointPolicy): ParsedPolicy {
  if (typeof policy === 'object' && policy !== null) {
    const b = policy.budgetBytes;
    if (typeof b !== 'number' || !(b > 0) || !Number.isFinite(b)) throw new CheckpointError(`checkpoint budgetBytes must be a finite number > 0, got ${String(b)}; ${HELP}`);
    return { kind: 'budget', budgetBytes: b };
  }
  if (policy === 'none' || policy === 'sqrt' || policy === 'save-matmuls') return { kind: policy };
  const m = /^every:(\d+)$/.exec(String(policy));
  if (m && Number(m[1]) >= 1) return { kind: 'every', k: Number(m[1]) };
  throw new CheckpointError(`unknown checkpoint policy '${String(policy)}'; ${HELP}`);
}

export function describePolicy(policy: CheckpointPolicy): string {
  return typeof policy === 'object' ? `budget:${policy.budgetBytes}` : policy;
}
