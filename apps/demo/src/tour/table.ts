import type { TourRow } from './tour-types.js';

export const TABLE_HEADERS = [
  'method',
  'exact match before',
  'exact match after',
  'held-out loss before',
  'held-out loss after',
  'trainable params',
  'adapter KB',
  'base weights KB',
  'peak RSS MB',
  'RSS rise MB',
  'step ms',
] as const;

const dash = (x: number | null, f: (v: number) => string) => (x === null ? '-' : f(x));
const pct = (x: number) => x.toFixed(2);

/** The row's cells as printed in the terminal and the HTML report (the same strings). */
export function rowCells(r: TourRow): string[] {
  return [
    r.method,
    pct(r.accuracyBefore),
    pct(r.accuracyAfter),
    r.heldOutBefore.toFixed(3),
    r.heldOutAfter.toFixed(3),
    r.trainableParams.toLocaleString('en-US'),
    (r.adapterBytes / 1024).toFixed(1),
    (r.baseWeightBytes / 1024).toFixed(1),
    dash(r.peakRssBytes, (v) => (v / 1e6).toFixed(0)),
    dash(r.rssRiseBytes, (v) => (v / 1e6).toFixed(0)),
    dash(r.stepMs, (v) => v.toFixed(1)),
  ];
}

/** A fixed-width text table. */
export function formatTable(rows: readonly TourRow[]): string {
  const cells = [TABLE_HEADERS.map(String), ...rows.map(rowCells)];
  const widths = TABLE_HEADERS.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The demo's claim: these methods answer at least this share of held-out prompts exactly ... */
export const ACCURACY_TARGET = 0.8;
/** ... where the base model answers at most this share. */
export const BASE_ACCURACY_CEILING = 0.1;
export const HEADLINE_METHODS: readonly string[] = ['LoRA', 'DoRA', 'QLoRA'];

/** What fails the demo: a row that did not improve on the base, or a headline method short of the target. */
export function tourFailures(rows: readonly TourRow[], opts: { requireTarget: boolean }): string[] {
  const out: string[] = [];
  for (const r of rows) {
    if (!(r.heldOutAfter < r.heldOutBefore)) out.push(`${r.method}: held-out loss did not fall (${r.heldOutBefore.toFixed(3)} -> ${r.heldOutAfter.toFixed(3)})`);
    const headline = HEADLINE_METHODS.includes(r.method.split(' ')[0]);
    if (headline && !(r.accuracyAfter > r.accuracyBefore)) out.push(`${r.method}: exact match did not rise (${pct(r.accuracyBefore)} -> ${pct(r.accuracyAfter)})`);
    if (headline && opts.requireTarget && !(r.accuracyAfter >= ACCURACY_TARGET && r.accuracyBefore <= BASE_ACCURACY_CEILING)) {
      out.push(`${r.method}: exact match ${pct(r.accuracyBefore)} -> ${pct(r.accuracyAfter)}, the demo expects <= ${BASE_ACCURACY_CEILING} -> >= ${ACCURACY_TARGET}`);
    }
  }
  return out;
}

/** How "peak RSS" is measured, printed under the table and in the report. */
export const MEASURED_NOTE =
  "peak RSS: the highest resident set size of this process (V8, ONNX Runtime arenas, tensors: everything) sampled at every training step, evaluation and decoding pass of the method's own run; RSS rise: that peak minus the RSS when the run started. The methods run one after another in one process, which keeps memory freed by earlier runs, so the rise is the fairer comparison; the kernel's maxRSS is process-wide and never falls, so it is shown once, for the whole tour";
