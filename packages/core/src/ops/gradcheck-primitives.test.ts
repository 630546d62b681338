import { describe } from 'vitest';
import { primitiveGradCases } from '../../test/support/grad-cases.js';
import { runGradCases } from '../../test/support/gradcheck.js';

// Fixed seed: a failure reproduces, and fast-check prints the shrunk counterexample.
describe('gradient check: primitives (analytic VJP vs float64 central differences, rel. error < 1e-6)', () => {
  runGradCases(primitiveGradCases, 20_261_129);
});
