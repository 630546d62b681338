import { TrainConfigError } from './errors.js';

// What the trainer does with a step whose loss or gradients are not finite, and the loss scaler's settings.

export type NonFinitePolicy = 'skip' | 'stop' | 'scale';
export const NON_FINITE_POLICIES: readonly NonFinitePolicy[] = ['skip', 'stop', 'scale'];

export interface LossScaleOptions {
  /** Starting scale (default 65536). */
  readonly init?: number;
  /** Multiplier after `growthInterval` good steps in a row (default 2). */
  readonly growthFactor?: number;
  /** Multiplier after a non-finite step (default 0.5). */
  readonly backoffFactor?: number;
  /** Good steps before the scale grows (default 2000). */
  readonly growthInterval?: number;
}

/** Hook-state key under which the loss scaler's state is saved with the trainer state. */
export const LOSS_SCALE_STATE = 'trainer.lossScale';

/** Checks the non-finite policy and loss-scale options before anything is compiled. */
export function validateNonFinite(opts: { readonly onNonFinite?: NonFinitePolicy; readonly lossScale?: LossScaleOptions }): void {
  const policy = opts.onNonFinite ?? 'skip';
  if (!NON_FINITE_POLICIES.includes(policy)) throw new TrainConfigError('onNonFinite', policy, NON_FINITE_POLICIES.join(', '));
  const ls = opts.lossScale ?? {};
  if (ls.init !== undefined && !(Number.isFinite(ls.init) && ls.init > 0)) throw new TrainConfigError('lossScale.init', ls.init, 'a finite number > 0');
  if (ls.growthFactor !== undefined && !(ls.growthFactor >= 1)) throw new TrainConfigError('lossScale.growthFactor', ls.growthFactor, 'a number >= 1');
  if (ls.backoffFactor !== undefined && !(ls.backoffFactor > 0 && ls.backoffFactor < 1)) throw new TrainConfigError('lossScale.backoffFactor', ls.backoffFactor, 'a number in (0, 1)');
  if (ls.growthInterval !== undefined && !(Number.isInteger(ls.growthInterval) && ls.growthInterval >= 1)) {
    throw new TrainConfigError('lossScale.growthInterval', ls.growthInterval, 'an integer >= 1');
  }
}
