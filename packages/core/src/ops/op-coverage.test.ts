import { describe, expect, it } from 'vitest';
import { compositeGradCases, primitiveGradCases } from '../../test/support/grad-cases.js';
import { listOps } from './registry.js';
import './index.js';

/**
 * Ops checked by value instead of by gradient (see nondiff-ops.test.ts): their
 * outputs are integer or boolean, they are random, or their VJP is zero by definition.
 */
const FORWARD_ONLY_OPS = [
  'equal',
  'notEqual',
  'less',
  'lessEqual',
  'greater',
  'greaterEqual',
  'logicalAnd',
  'logicalOr',
  'randomUniform',
  'stopGradient',
];

describe('op coverage', () => {
  it('every primitive and composite in the registry has a gradient case or a forward check', () => {
    const covered = new Set([...primitiveGradCases, ...compositeGradCases].map((c) => c.op));
    const missing = [...listOps('primitive'), ...listOps('composite')]
      .map((d) => d.name)
      .filter((n) => !covered.has(n) && !FORWARD_ONLY_OPS.includes(n));
    expect(missing, `ops without a check: ${missing.join(', ')}`).toEqual([]);
  });

  it('forward-only ops have no VJP, except stopGradient whose VJP is zero', () => {
    const withVjp = [...listOps('primitive'), ...listOps('composite')].filter((d) => FORWARD_ONLY_OPS.includes(d.name) && d.vjp);
    expect(withVjp.map((d) => d.name)).toEqual(['stopGradient']);
  });
});
