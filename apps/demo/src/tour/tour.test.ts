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
    expect(results.rows.map((r) => r.method.split(' ')[0])).toEqual(['LoRA', 'DoRA', 'QLoRA', 'merge']);
    for (const r of results.rows) {
      // The random base model is near ln(vocab) ≈ 5.5 on the task; every adapter must clearly improve on it.
      expect(r.heldOutBefore).toBeGreaterThan(5.3);
      expect(r.heldOutAfter).toBeLessThan(r.heldOutBefore - 0.3);
      expect(r.trainableParams).toBeGreaterThan(0);
    }
    const [lora, dora, qlora, merged] = results.rows;
    expect(dora.trainableParams).toBeGreaterThan(lora.trainableParams); // the magnitude vectors
    expect(qlora.baseWeightBytes).toBeLessThan(lora.baseWeightBytes / 2); // 4-bit linear weights
    expect(merged.trainableParams).toBe(2 * lora.trainableParams); // cat doubles the rank
    for (const r of [lora, dora, qlora]) expect(r.stepMs!).toBeGreaterThan(0);
    expect(results.policies.map((p) => p.policy)).toEqual(['none', 'sqrt', 'every:1', 'save-matmuls']);
    const none = results.policies[0];
    const sqrt = results.policies[1];
    expect(sqrt.plannedPeakMB).toBeLessThan(none.plannedPeakMB); // checkpointing drops activations

    // The table is printed, and the report holds the same measured numbers.
    for (const r of results.rows) expect(printed).toContain(rowCells(r).join(' ').split(' ')[0]);
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
    const memory = readFileSync(join(out, 'charts', 'policy-peak-memory.svg'), 'utf8');
    expect(memory).toContain('save-matmuls');
  }, 240_000);
});
