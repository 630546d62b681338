import { TrainConfigError } from './errors.js';

export type ScheduleKind = 'constant' | 'linear' | 'cosine';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['constant', 'linear', 'cosine'];

/** A learning-rate schedule: linear warmup from 0, then constant, linear decay or cosine decay. */
export interface LrSchedule {
  readonly kind: ScheduleKind;
  /** Steps of linear warmup from 0 to the base rate (default 0). */
  readonly warmupSteps?: number;
  /** Steps over which linear and cosine decay to `minLrRatio` × base (required for them). */
  readonly totalSteps?: number;
  /** Floor of the decay as a fraction of the base rate (default 0). */
  readonly minLrRatio?: number;
}

export function validateSchedule(s: LrSchedule): void {
  if (!SCHEDULE_KINDS.includes(s.kind)) throw new TrainConfigError('schedule', s.kind, SCHEDULE_KINDS.join(', '));
  const warmup = s.warmupSteps ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0) throw new TrainConfigError('warmupSteps', warmup, 'an integer >= 0');
  if (s.kind !== 'constant' && (!Number.isInteger(s.totalSteps) || (s.totalSteps ?? 0) < 1)) {
    throw new TrainConfigError('totalSteps', s.totalSteps, `an integer >= 1 (needed by the '${s.kind}' schedule)`);
  }
  const floor = s.minLrRatio ?? 0;
  if (!(floor >= 0 && floor <= 1)) throw new TrainConfigError('minLrRatio', floor, 'a number in [0, 1]');
}

/**
 * The learning rate for optimizer step `step` (0-based). Warmup ramps as
 * (step + 1) / (warmup + 1), so no step is wasted at rate 0 and the base rate
 * is reached right after warmup; decay then runs over the remaining steps.
 */
export function learningRateAt(baseLr: number, schedule: LrSchedule, step: number): number {
  const warmup = schedule.warmupSteps ?? 0;
  if (step < warmup) return (baseLr * (step + 1)) / (warmup + 1);
  if (schedule.kind === 'constant') return baseLr;
  const total = schedule.totalSteps ?? 1;
  const floor = schedule.minLrRatio ?? 0;
  const span = Math.max(1, total - warmup);
  const progress = Math.min(1, (step - warmup) / span);
  const shape = schedule.kind === 'linear' ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
  return baseLr * (floor + (1 - floor) * shape);
}
