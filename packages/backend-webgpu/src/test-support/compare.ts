import { expect } from 'vitest';
import type { HostTensor, NDArray } from '@lowrank/core';

/** Asserts |actual - expected| <= atol + rtol·|expected| elementwise, naming the worst element. */
export function expectClose(actual: HostTensor, expected: NDArray, what: string, rtol = 1e-4, atol = 1e-5): void {
  expect([...actual.shape], `${what}: shape`).toEqual([...expected.shape]);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.size; i++) {
    const a = Number(actual.data[i]);
    const e = expected.data[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${actual.data[worst]}, expected ${expected.data[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}

/** Deterministic uniform values in [lo, hi) from a seed (mulberry32). */
export function seededValues(seed: number, n: number, lo = -2, hi = 2): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out.push(lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296));
  }
  return out;
}
