import type { DType, HostTensor, NDArray, Shape } from '@lowrank/core';
import type { Tolerance } from './tolerances.js';

/** How one output of a backend compares with the float64 reference. */
export interface Comparison {
  readonly name: string;
  readonly ok: boolean;
  /** Largest |got - want|. */
  readonly maxAbsError: number;
  /** Largest |got - want| / |want| over elements with want ≠ 0. */
  readonly maxRelError: number;
  /** Why it failed: the worst element, or a shape/dtype mismatch. */
  readonly detail: string;
}

const shapeText = (s: Shape) => `[${s.join(', ')}]`;

/**
 * Elementwise |got - want| <= atol + rtol·|want| for float outputs; exact
 * equality for integer and boolean outputs. Shapes and dtypes must match.
 */
export function compareOutput(name: string, got: HostTensor | undefined, want: NDArray, tol: Tolerance): Comparison {
  const fail = (detail: string): Comparison => ({ name, ok: false, maxAbsError: Infinity, maxRelError: Infinity, detail });
  if (!got) return fail('the backend returned no value');
  if (got.dtype !== want.dtype) return fail(`dtype ${got.dtype}, expected ${want.dtype}`);
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
    return fail(`shape ${shapeText(got.shape)}, expected ${shapeText(want.shape)}`);
  }
  if (got.data.length !== want.data.length) return fail(`${got.data.length} values, expected ${want.data.length}`);
  const exact = isExactDtype(want.dtype);
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.data.length; i++) {
    const g = got.data[i];
    const w = want.data[i];
    const err = Math.abs(g - w);
    if (Number.isNaN(g) !== Number.isNaN(w)) return fail(`element ${i} is ${g}, expected ${w}`);
    if (Number.isNaN(err)) continue;
    maxAbs = Math.max(maxAbs, err);
    if (w !== 0) maxRel = Math.max(maxRel, err / Math.abs(w));
    const allowed = exact ? 0 : tol.atol + tol.rtol * Math.abs(w);
    if (err - allowed > worstExcess) {
      worstExcess = err - allowed;
      worst = i;
    }
  }
  const ok = worst < 0;
  const detail = ok
    ? ''
    : `element ${worst} is ${got.data[worst]}, expected ${want.data[worst]} ` +
      (exact ? '(integer values must match exactly)' : `(allowed ${tol.atol} + ${tol.rtol}·|expected|)`);
  return { name, ok, maxAbsError: maxAbs, maxRelError: maxRel, detail };
}

/** Norm-wise relative error ||got - want||∞ / ||want||∞ (used for whole training steps). */
export function normRelativeError(got: HostTensor, want: NDArray): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.data.length; i++) {
    num = Math.max(num, Math.abs(got.data[i] - want.data[i]));
    den = Math.max(den, Math.abs(want.data[i]));
  }
  return den === 0 ? num : num / den;
}

function isExactDtype(d: DType): boolean {
  return d !== 'f32';
}

export function formatComparisons(cs: readonly Comparison[]): string {
  return cs
    .filter((c) => !c.ok)
    .map((c) => `${c.name}: ${c.detail} (max abs error ${c.maxAbsError.toExponential(2)}, max rel error ${c.maxRelError.toExponential(2)})`)
    .join('\n');
}
