/**
 * Nearest code of a small codebook by table: a grid over the codebook's range
 * gives, for each cell, a safe lower bound on the answer, and a comparison or
 * two against the midpoints finishes it. Same answer as a binary search over
 * the midpoints, bit for bit: a value exactly on a midpoint takes the lower
 * code (bitsandbytes), NaN takes the lowest.
 */
export interface NearestCodeTable {
  /** Midpoints between neighbouring (sorted, f32-rounded) code values, then +Infinity as a sentinel. */
  readonly mids: Float64Array;
  /** The stored code of each sorted position. */
  readonly codes: Uint8Array;
  /** Per grid cell: how many midpoints lie below the cell before it (never more than the true answer). */
  readonly lowerBound: Uint8Array;
  /** The grid: cell = floor((x - gridStart) * cellsPerUnit), clamped to [0, cells]; NaN takes cell 0. */
  readonly gridStart: number;
  readonly cellsPerUnit: number;
  readonly cells: number;
}

// 4096 cells over the codebook's range: only the ~1-3% of values within two cells of a midpoint need a second comparison.
const CELLS = 4096;

/** A table for code values `values` stored as `codes` (same order). At most 256 values (positions fit a byte). */
export function nearestCodeTable(values: readonly number[], codes: readonly number[]): NearestCodeTable {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const sorted = order.map((i) => Math.fround(values[i]));
  const mids = new Float64Array(sorted.length);
  for (let i = 0; i + 1 < sorted.length; i++) mids[i] = (sorted[i] + sorted[i + 1]) / 2;
  mids[sorted.length - 1] = Infinity;
  const gridStart = sorted[0];
  const cellsPerUnit = CELLS / (sorted[sorted.length - 1] - gridStart);
  const lowerBound = new Uint8Array(CELLS + 1);
  for (let cell = 0; cell <= CELLS; cell++) {
    // A value landing in `cell` (even after rounding in the cell computation) is above the start of the cell before it.
    const below = gridStart + (cell - 1) / cellsPerUnit;
    let count = 0;
    while (count < sorted.length - 1 && mids[count] < below) count++;
    lowerBound[cell] = count;
  }
  return { mids, codes: Uint8Array.from(order, (i) => codes[i]), lowerBound, gridStart, cellsPerUnit, cells: CELLS };
}

/** Sorted position of the code nearest to x (the number of midpoints strictly below x). */
export function nearestPosition(t: NearestCodeTable, x: number): number {
  const u = (x - t.gridStart) * t.cellsPerUnit;
  // Written so that NaN and values off the grid land in an end cell (never a wrapped int32).
  let pos = t.lowerBound[u >= t.cells ? t.cells : u > 0 ? u | 0 : 0];
  while (x > t.mids[pos]) pos++;
  return pos;
}

export function nearestCode(t: NearestCodeTable, x: number): number {
  return t.codes[nearestPosition(t, x)];
}
