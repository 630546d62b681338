import { describe } from 'vitest';
import { compositeGradCases } from '../../test/support/grad-cases.js';
import { runGradCases } from '../../test/support/gradcheck.js';

describe('gradient check: composites (analytic VJP vs float64 central differences, rel. error < 1e-6)', () => {
  runGradCases(compositeGradCases, 20_261_129);
});
