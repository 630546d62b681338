import type { AgreementRow } from './agreement.js';
import type { Row } from './summary.js';

const mb = (b: number) => (Number.isFinite(b) ? (b / 2 ** 20).toFixed(0) : 'n/a');
const fx = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

export function markdownTable(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function raceTable(rows: readonly Row[]): string {
  return markdownTable(
    ['implementation', 'tokens/s', 'ratio to PyTorch', 'step ms (median; n; spread)', 'best step ms', 'MFU vs ceiling', 'peak RSS MB', 'step memory MB', 'compile/setup s', 'first loss'],
    rows.map((r) => [
      r.name,
      fx(r.tokensPerSecond, 0),
      `${fx(r.ratioToPytorch)}×`,
      `${fx(r.stepMs, 0)}; ${r.samples}; ${pct(r.spread)}`,
      fx(r.bestMs, 0),
      pct(r.mfu),
      mb(r.peakRssBytes),
      mb(r.stepMemoryBytes),
      fx(r.setupMs / 1000, 1),
      r.loss.toFixed(6),
    ]),
  );
}

export function agreementTable(rows: readonly AgreementRow[], reference: string): string {
  return markdownTable(
    ['participant', `loss rel. diff vs ${reference}`, 'grad-norm rel. diff', 'loss after 1 AdamW step, rel. diff vs PyTorch', 'verdict'],
    rows.map((r) => [
      r.name,
      r.lossRel.toExponential(1),
      r.gradNormRel.toExponential(1),
      r.lossAfterStepRel === undefined ? 'n/a' : r.lossAfterStepRel.toExponential(1),
      r.ok ? 'agrees' : `DISAGREES: ${r.problems.join('; ')}`,
    ]),
  );
}

export interface Target {
  readonly what: string;
  readonly goal: string;
  readonly measured: string;
  /** undefined: not measurable in this run. */
  readonly met: boolean | undefined;
}

export function targetsTable(targets: readonly Target[]): string {
  return markdownTable(
    ['target', 'goal', 'measured', 'status'],
    targets.map((t) => [t.what, t.goal, t.measured, t.met === undefined ? 'not measured' : t.met ? 'met' : 'MISSED']),
  );
}

export { fx, mb, pct };
