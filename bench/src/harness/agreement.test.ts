import { describe, expect, it } from 'vitest';
import { checkAgreement } from './agreement.js';

describe('checkAgreement', () => {
  const reference = { loss: 8, gradNorm: 0.5 };
  it('accepts float32-level differences and rejects a wrong loss, gradient or optimizer step', () => {
    const rows = checkAgreement(reference, { lossAfterStep: 7.9 }, [
      { name: 'close', loss: 8 * (1 + 3e-7), gradNorm: 0.5 * (1 - 2e-6), lossAfterStep: 7.9 * (1 + 1e-6) },
      { name: 'wrong loss', loss: 8.01, gradNorm: 0.5 },
      { name: 'wrong grad', loss: 8, gradNorm: 0.51 },
      { name: 'wrong step', loss: 8, gradNorm: 0.5, lossAfterStep: 7.95 },
      { name: 'nan', loss: Number.NaN, gradNorm: 0.5 },
    ]);
    expect(rows.map((r) => r.ok)).toEqual([true, false, false, false, false]);
    expect(rows[0].lossRel).toBeCloseTo(3e-7, 12);
    expect(rows[1].problems[0]).toContain('loss 8.01 vs reference 8');
    expect(rows[2].problems[0]).toContain('grad norm 0.51');
    expect(rows[3].lossAfterStepRel).toBeCloseTo(0.05 / 7.9, 9);
    expect(rows[4].problems[0]).toContain('NaN');
  });
});
