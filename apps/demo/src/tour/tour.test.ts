import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../cli/test-support.js';
import { CHART_FILES } from './report.js';
import { runTour } from './run-tour.js';
import { formatTable, methodsWithoutImprovement, rowCells } from './table.js';
import type { TourResults, TourRow } from './tour-types.js';

const row = (method: string, before: number, after: number): TourRow => ({
  method,
  trainableParams: 1234,
  adapterBytes: 4096,
  baseWeightBytes: 8192,
  plannedPeakBytes: 2.5e6,
  measuredPeakBytes: null,
  stepMs: 12.34,
  heldOutBefore: before,
  heldOutAfter: after,
});

describe('comparison table', () => {
  it('flags every method whose held-out loss did not fall', () => {
    expect(methodsWithoutImprovement([row('a', 5, 4), row('b', 5, 5), row('c', 5, 6), row('d', 5, NaN)])).toEqual(['b', 'c', 'd']);
  });

  it('prints one aligned line per method with the figures', () => {
    const text = formatTable([row('LoRA', 5.5, 4.25)]).split('\n');
    expect(text).toHaveLength(3);
    expect(text[2]).toMatch(/^LoRA\s+1,234\s+4\.0\s+8\.0\s+2\.50\s+-\s+12\.3\s+5\.5000\s+4\.2500$/);
    expect(new Set(text.map((l) => l.length)).size).toBe(1);
  });
});

describe('the tour, shortened (--quick)', () => {
  it('trains every method, beats the base model with each, and writes a report with the measured numbers', async () => {
    const out = join(tempDir('tour'), 'report');
    let printed = '';
    const { results, files, failed } = await runTour({ out, quick: true }, { write: (t: string) => (printed += t) });
    expect(failed).toEqual([]);
    expect(results.rows.map((r) => r.method.split(' ')[0])).toEqual(['LoRA', 'DoRA', 'QLoRA', 'DyLoRA', 'DyLoRA', 'DyLoRA', 'DyLoRA', 'AdaLoRA', 'LoRA-Drop', 'merge']);
    const [lora, dora, qlora, dyFull, dy1, dy2, dy4, ada, drop, merged] = results.rows;
    for (const r of results.rows) {
      // The random base model is near ln(vocab) ≈ 5.5 on the task.
      expect(r.heldOutBefore).toBeGreaterThan(5.3);
      expect(r.heldOutAfter).toBeLessThan(r.heldOutBefore);
      expect(r.trainableParams).toBeGreaterThan(0);
    }
    // Every method trained at full rank clearly improves on it (low DyLoRA cuts improve less).
    for (const r of [lora, dora, qlora, dyFull, ada, drop, merged]) expect(r.heldOutAfter, r.method).toBeLessThan(r.heldOutBefore - 0.3);
    expect(dora.trainableParams).toBeGreaterThan(lora.trainableParams); // the magnitude vectors
    expect(qlora.baseWeightBytes).toBeLessThan(lora.baseWeightBytes / 2); // 4-bit linear weights
    expect(merged.trainableParams).toBe(2 * lora.trainableParams); // cat doubles the rank

    // DyLoRA: one training run, evaluated at ranks 1, 2, 4, 8; the full rank is the best cut and clearly beats rank 1.
    // (Neighbouring small ranks may swap places after a short run, so only the ends are compared.)
    expect(results.rankSweep.map((p) => p.rank)).toEqual([1, 2, 4, 8]);
    expect(results.rankSweep[3].heldOut).toBe(Math.min(...results.rankSweep.map((p) => p.heldOut)));
    expect(results.rankSweep[3].heldOut).toBeLessThan(results.rankSweep[0].heldOut - 0.2);
    expect([dy1, dy2, dy4].map((r) => r.trainableParams)).toEqual([1, 2, 4].map((k) => (dyFull.trainableParams * k) / 8));
    expect(dy1.heldOutAfter).toBe(results.rankSweep[0].heldOut);

    // AdaLoRA: the kept components add up to the final budget (target_r = rank/2 per layer), unevenly spread.
    const kept = Object.values(results.prunedRanks);
    expect(kept).toHaveLength(14);
    expect(kept.reduce((a, b) => a + b, 0)).toBe(4 * 14);
    expect(Math.max(...kept)).toBeGreaterThan(Math.min(...kept));

    // LoRA-Drop: the kept layers carry >= 90% of the importance; the others share, so fewer parameters train.
    const sel = results.loraDrop;
    expect(sel.kept.length + sel.dropped.length).toBe(14);
    expect(sel.kept.length).toBeLessThan(14);
    expect(sel.kept.reduce((a, p) => a + sel.importance[p], 0)).toBeGreaterThanOrEqual(0.9);
    expect(drop.trainableParams).toBeLessThan(lora.trainableParams);
    for (const r of [lora, dora, qlora, dyFull, ada, drop]) expect(r.stepMs!).toBeGreaterThan(0);
    expect(results.policies.map((p) => p.policy)).toEqual(['none', 'sqrt', 'every:1', 'save-matmuls']);
    const none = results.policies[0];
    const sqrt = results.policies[1];
    expect(sqrt.plannedPeakMB).toBeLessThan(none.plannedPeakMB); // checkpointing drops activations

    // The table is printed, and the report holds the same measured numbers.
    for (const r of results.rows) expect(printed).toContain(r.method);
    expect(printed).toContain(lora.heldOutAfter.toFixed(4));
    for (const f of [...CHART_FILES.map((c) => join(out, 'charts', c)), join(out, 'index.html'), join(out, 'results.json')]) {
      expect(existsSync(f), f).toBe(true);
      expect(files).toContain(f);
    }
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    for (const r of results.rows) for (const cell of rowCells(r)) expect(html).toContain(cell.replace(/&/g, '&amp;'));
    for (const p of results.policies) expect(html).toContain(p.plannedPeakMB.toFixed(2));
    const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as TourResults;
    expect(saved.rows).toEqual(results.rows);
    const curves = readFileSync(join(out, 'charts', 'loss-curves.svg'), 'utf8');
    expect(curves.startsWith('<svg')).toBe(true);
    for (const m of Object.keys(results.losses)) expect(curves).toContain(m.replace(/&/g, '&amp;').replace(/\(/g, '('));
    for (const p of results.rankSweep) expect(html).toContain(`r=${p.rank}: ${p.heldOut.toFixed(4)}`);
    expect(readFileSync(join(out, 'charts', 'adalora-rank-distribution.svg'), 'utf8')).toContain('L1 down_proj');
    const memory = readFileSync(join(out, 'charts', 'policy-peak-memory.svg'), 'utf8');
    expect(memory).toContain('save-matmuls');
  }, 240_000);
});
