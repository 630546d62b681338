import { LowrankError } from '../errors.js';

/** Misuse of checkpointing: an unknown policy, a reused segment name, a graph rematerialized twice. */
export class CheckpointError extends LowrankError {}

/** A `{ budgetBytes }` policy no schedule can meet. Carries the smallest budget that works. */
export class CheckpointBudgetError extends LowrankError {
  constructor(
    readonly budgetBytes: number,
    readonly minimumBytes: number,
    readonly segments: number,
  ) {
    super(
      `memory budget of ${budgetBytes} bytes is below the minimum feasible ${minimumBytes} bytes for this graph ` +
        `(${segments} checkpoint segment(s), recomputing as much as possible). ` +
        `Raise budgetBytes to at least ${minimumBytes}, shrink the batch or sequence, or wrap more of the model in checkpoint segments.`,
    );
  }
}
