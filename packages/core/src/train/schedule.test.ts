import { describe, expect, it } from 'vitest';
import { TrainConfigError } from './errors.js';
import { learningRateAt, validateSchedule } from './schedule.js';

describe('learning-rate schedules', () => {
  it('warms up linearly and then holds the base rate (constant)', () => {
    const s = { kind: 'constant' as const, warmupSteps: 4 };
    [0.2, 0.4, 0.6, 0.8, 1, 1].forEach((want, i) => expect(learningRateAt(1, s, [0, 1, 2, 3, 4, 9][i])).toBeCloseTo(want, 15));
  });

  it('decays linearly to the floor at totalSteps', () => {
    const s = { kind: 'linear' as const, warmupSteps: 2, totalSteps: 12, minLrRatio: 0.1 };
    expect(learningRateAt(2, s, 2)).toBeCloseTo(2, 12);
    // halfway through the 10 decay steps: 0.1 + 0.9 * 0.5 = 0.55 of base
    expect(learningRateAt(2, s, 7)).toBeCloseTo(1.1, 12);
    expect(learningRateAt(2, s, 12)).toBeCloseTo(0.2, 12);
    expect(learningRateAt(2, s, 50)).toBeCloseTo(0.2, 12);
  });

  it('follows half a cosine', () => {
    const s = { kind: 'cosine' as const, totalSteps: 8 };
    expect(learningRateAt(1, s, 0)).toBe(1);
    expect(learningRateAt(1, s, 2)).toBeCloseTo((1 + Math.SQRT1_2) / 2, 12);
    expect(learningRateAt(1, s, 4)).toBeCloseTo(0.5, 12);
    expect(learningRateAt(1, s, 8)).toBeCloseTo(0, 12);
  });

  it('rejects invalid schedules with the option and the allowed values', () => {
    expect(() => validateSchedule({ kind: 'step' as 'linear' })).toThrow(/invalid schedule: "step". Allowed: constant, linear, cosine/);
    expect(() => validateSchedule({ kind: 'cosine' })).toThrow(TrainConfigError);
    expect(() => validateSchedule({ kind: 'constant', warmupSteps: -1 })).toThrow(/warmupSteps/);
  });
});
