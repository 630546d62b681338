import type { TourRow } from './tour-types.js';

export const TABLE_HEADERS = ['method', 'trainable params', 'adapter KB', 'base weights KB', 'planned peak MB', 'measured peak MB', 'step ms', 'held-out before', 'held-out after'] as const;

const dash = (x: number | null, f: (v: number) => string) => (x === null ? '-' : f(x));

/** The row's cells as printed in the terminal and the HTML report (the same strings). */
export function rowCells(r: TourRow): string[] {
  return [
    r.method,
    r.trainableParams.toLocaleString('en-US'),
    (r.adapterBytes / 1024).toFixed(1),
    (r.baseWeightBytes / 1024).toFixed(1),
    dash(r.plannedPeakBytes, (v) => (v / 1e6).toFixed(2)),
    dash(r.measuredPeakBytes, (v) => (v / 1e6).toFixed(2)),
    dash(r.stepMs, (v) => v.toFixed(1)),
    r.heldOutBefore.toFixed(4),
    r.heldOutAfter.toFixed(4),
  ];
}

/** A fixed-width text table. */
export function formatTable(rows: readonly TourRow[]): string {
  const cells = [TABLE_HEADERS.map(String), ...rows.map(rowCells)];
  const widths = TABLE_HEADERS.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** Methods whose held-out loss did not fall below the base model's. */
export function methodsWithoutImprovement(rows: readonly TourRow[]): string[] {
  return rows.filter((r) => !(r.heldOutAfter < r.heldOutBefore)).map((r) => r.method);
}

/** What "measured peak" means on backend-cpu, printed under the table and in the report. */
export const MEASURED_NOTE =
  'measured peak: the most bytes the backend held (backend-cpu: resident parameters, optimizer state and step tensors; ONNX Runtime does not expose its activation arena, so activations show only in the planned peak)';
