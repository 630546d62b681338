/** Small statistics for timing samples. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function relativeDifference(got: number, want: number): number {
  if (got === want) return 0;
  return Math.abs(got - want) / Math.max(Math.abs(want), Number.MIN_VALUE);
}

/** Spread of samples as (max − min) / median, to flag noisy measurements. */
export function spread(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  return (Math.max(...xs) - Math.min(...xs)) / median(xs);
}
