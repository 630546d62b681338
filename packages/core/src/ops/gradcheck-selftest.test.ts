import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { f32, gradCheck, prepare, uniform, type GradCase } from '../../test/support/gradcheck.js';
import { mapBroadcast } from '../reference/ndarray.js';
import { defineOp, emit } from './registry.js';
import { mul } from './elementwise.js';

// An op whose VJP is wrong by a factor (d/dx x³ written as 2x² instead of 3x²):
// the checker must reject it, or a passing gradient check proves nothing.
defineOp({
  name: 'selftest.cubeWithWrongVjp',
  kind: 'primitive',
  infer: ([x]) => x,
  reference: ([x]) => mapBroadcast([x], x.dtype, (v) => v * v * v),
  vjp: ({ grad, inputs: [x] }) => [mul(grad, mul(mul(x, x), 2))],
});

describe('gradient checker self-test', () => {
  const wrong: GradCase = {
    op: 'selftest.cubeWithWrongVjp',
    label: 'wrong VJP',
    inputs: [f32([4], uniform([4], 0.5, 2))],
    build: ([x]) => emit('selftest.cubeWithWrongVjp', [x]),
  };

  it('reports a large error for a wrong VJP', () => {
    const p = prepare(wrong);
    fc.assert(
      fc.property(wrong.inputs[0].values, uniform([4], 0.5, 1), (x, u) => {
        expect(gradCheck(wrong, p, [x], u).maxRelError).toBeGreaterThan(0.2);
      }),
      { seed: 7, numRuns: 5 },
    );
  });

  it('reports a tiny error for a right VJP of the same function', () => {
    const right: GradCase = { ...wrong, op: 'pow', build: ([x]) => emit('pow', [x], { exponent: 3 }) };
    const p = prepare(right);
    const r = gradCheck(right, p, [[0.7, 1.1, 1.9, 0.5]], [0.3, -0.8, 0.5, 1]);
    expect(r.maxRelError).toBeLessThan(1e-9);
  });
});
