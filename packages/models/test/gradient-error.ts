// How far backend-cpu's gradients are from the float64 reference evaluator's,
// shared by the gradient checks of the family tests and the PEFT tests.
import { expect } from 'vitest';

/**
 * The worst, over the named outputs, of ‖got − want‖₂ / ‖want‖₂. Every wanted
 * gradient must be nonzero: a zero one would pass any tolerance.
 */
export function worstRelativeL2(got: Readonly<Record<string, { data: ArrayLike<number> }>>, want: ReadonlyMap<string, { data: ArrayLike<number> }>, names: Iterable<string>): number {
  let worst = 0;
  for (const name of names) {
    const a = got[name].data;
    const b = want.get(name)!.data;
    let num = 0;
    let den = 0;
    for (let i = 0; i < b.length; i++) {
      num += (a[i] - b[i]) ** 2;
      den += b[i] ** 2;
    }
    expect(den, name).toBeGreaterThan(0);
    worst = Math.max(worst, Math.sqrt(num / den));
  }
  return worst;
}
