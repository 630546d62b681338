import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../cli/test-support.js';
import { TEST_CACHE_ROOT } from '../demo-base/test-cache.js';
import { CHART_FILES } from './report.js';
import { runTour } from './run-tour.js';
import { formatTable, rowCells, tourFailures } from './table.js';
import type { TourResults, TourRow } from './tour-types.js';

const row = (method: string, before: number, after: number, accBefore = 0, accAfter = 0.9): TourRow => ({
  method,
  trainableParams: 1234,
  adapterBytes: 4096,
  baseWeightBytes: 8192,
  peakRssBytes: 312.4e6,
  rssRiseBytes: 40.2e6,
  stepMs: 12.34,
  heldOutBefore: before,
  heldOutAfter: after,
  accuracyBefore: accBefore,
  accuracyAfter: accAfter,
  heldOutPrompts: 64,
});

describe('comparison table', () => {
  it('fails rows whose loss did not fall, and headline methods short of the accuracy target', () => {
    const failures = tourFailures([row('LoRA', 5, 4), row('AdaLoRA', 5, 5), row('DyLoRA', 5, NaN), row('DoRA', 5, 4, 0, 0.5), row('QLoRA (NF4 base)', 5, 4, 0.2, 0.9)], { requireTarget: true });
    expect(failures.map((f) => f.split(':')[0])).toEqual(['AdaLoRA', 'DyLoRA', 'DoRA', 'QLoRA (NF4 base)']);
    // Quick runs only ask that accuracy rose.
    expect(tourFailures([row('DoRA', 5, 4, 0, 0.5), row('LoRA', 5, 4, 0.1, 0.1)], { requireTarget: false }).map((f) => f.split(':')[0])).toEqual(['LoRA']);
  });

  it('prints one aligned line per method with the figures', () => {
    const text = formatTable([row('LoRA', 5.5, 4.25, 0.03125, 0.84375)]).split('\n');
    expect(text).toHaveLength(3);
    expect(text[2]).toMatch(/^LoRA\s+0\.03\s+0\.84\s+5\.500\s+4\.250\s+1,234\s+4\.0\s+8\.0\s+312\s+40\s+12\.3$/);
    expect(new Set(text.map((l) => l.length)).size).toBe(1);
  });
});

describe('the tour, shortened (--quick, small test base)', () => {
  it('pretrains or reuses the base, fine-tunes every method, and reports answers the saved adapters reproduce', async () => {
    const out = join(tempDir('tour'), 'report');
    let printed = '';
    const { results, files, failed } = await runTour({ out, quick: true, cacheRoot: TEST_CACHE_ROOT }, { write: (t: string) => (printed += t) });
    expect(failed).toEqual([]);
    expect(printed).toMatch(results.base.reused ? /reusing the cached base model at / : /pretraining the base model once/);
    expect(results.base.dir.startsWith(join(TEST_CACHE_ROOT, 'demo-base-'))).toBe(true);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) expect(existsSync(join(results.base.dir, f)), f).toBe(true);

    expect(results.rows.map((r) => r.method.split(' ')[0])).toEqual(['LoRA', 'DoRA', 'QLoRA', 'DyLoRA', 'DyLoRA', 'DyLoRA', 'DyLoRA', 'AdaLoRA', 'LoRA-Drop', 'merge']);
    const [lora, dora, qlora, dyFull, dy1, dy2, dy4, ada, drop, merged] = results.rows;
    for (const r of results.rows) {
      expect(r.heldOutAfter, r.method).toBeLessThan(r.heldOutBefore);
      expect(r.trainableParams).toBeGreaterThan(0);
      expect(r.heldOutPrompts).toBeGreaterThanOrEqual(50);
    }
    // The base model has never seen the format: it answers (almost) nothing exactly; the adapters do better.
    for (const r of [lora, dora, qlora]) {
      expect(r.accuracyBefore, r.method).toBeLessThanOrEqual(0.1);
      expect(r.accuracyAfter, r.method).toBeGreaterThan(r.accuracyBefore);
      expect(r.peakRssBytes!, r.method).toBeGreaterThan(50e6);
      expect(r.rssRiseBytes!, r.method).toBeGreaterThanOrEqual(0);
      expect(r.rssRiseBytes!, r.method).toBeLessThanOrEqual(r.peakRssBytes!);
    }
    expect(dora.trainableParams).toBeGreaterThan(lora.trainableParams); // the magnitude vectors
    // QLoRA holds the linear layers' weights in 4 bits (~4.13 bits with double quantization); embeddings stay f32.
    const cfg = JSON.parse(readFileSync(join(results.base.dir, 'config.json'), 'utf8')) as { hidden_size: number; intermediate_size: number; num_hidden_layers: number };
    const linearBytes = 4 * cfg.num_hidden_layers * (4 * cfg.hidden_size ** 2 + 3 * cfg.hidden_size * cfg.intermediate_size);
    expect(lora.baseWeightBytes - qlora.baseWeightBytes).toBeGreaterThan(linearBytes * (1 - 4.2 / 32));
    expect(lora.baseWeightBytes - qlora.baseWeightBytes).toBeLessThan(linearBytes * (1 - 4 / 32));
    expect(merged.trainableParams).toBe(2 * lora.trainableParams); // cat doubles the rank

    // DyLoRA: one training run, evaluated at ranks 1, 2, 4, 8; the rows carry each rank's loss and accuracy.
    expect(results.rankSweep.map((p) => p.rank)).toEqual([1, 2, 4, 8]);
    expect(results.rankSweep[3].heldOut).toBeLessThan(results.rankSweep[0].heldOut);
    expect([dy1, dy2, dy4].map((r) => r.trainableParams)).toEqual([1, 2, 4].map((k) => (dyFull.trainableParams * k) / 8));
    expect([dy1, dy2, dy4, dyFull].map((r) => r.accuracyAfter)).toEqual(results.rankSweep.map((p) => p.accuracy));

    const kept = Object.values(results.prunedRanks);
    expect(kept.reduce((a, b) => a + b, 0)).toBe(4 * kept.length); // AdaLoRA's budget: target_r = rank/2 per layer
    expect(results.loraDrop.kept.reduce((a, p) => a + results.loraDrop.importance[p], 0)).toBeGreaterThanOrEqual(0.9);
    expect(drop.trainableParams).toBeLessThan(lora.trainableParams);
    for (const r of [lora, dora, qlora, dyFull, ada, drop]) expect(r.stepMs!).toBeGreaterThan(0);
    expect(results.merge.map((m) => m.task)).toEqual(['first', 'last']);

    // Three held-out prompts, each with the base model's answer and every method's.
    expect(results.samples).toHaveLength(3);
    for (const s of results.samples) {
      expect(Object.keys(s.answers)).toEqual(['LoRA', 'DoRA', 'QLoRA (NF4 base)', 'DyLoRA r=8', 'AdaLoRA', 'LoRA-Drop']);
      expect(printed).toContain(s.prompt);
    }
    // The answer in the report is what the saved adapter generates: `lowrank generate` (one prompt, the adapter
    // read back from the PEFT files on disk) reproduces what the tour decoded in left-padded batches of 32.
    const sample = results.samples[0];
    const cli = await runCli([
      'generate',
      '--model', results.base.dir,
      '--adapter', join(out, results.adapters['LoRA']),
      '--prompt', sample.prompt,
      '--max-new-tokens', String(results.task.maxNewTokens),
      '--json',
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    const generated = JSON.parse(cli.stdout.trim().split('\n').pop()!) as { text: string };
    expect(generated.text).toBe(sample.answers['LoRA']);

    // The table is printed, and the report holds the same numbers, the answers and the charts.
    for (const r of results.rows) expect(printed).toContain(r.method);
    for (const f of [...CHART_FILES.map((c) => join(out, 'charts', c)), join(out, 'index.html'), join(out, 'results.json')]) {
      expect(existsSync(f), f).toBe(true);
      expect(files).toContain(f);
    }
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    for (const r of results.rows) for (const cell of rowCells(r)) expect(html).toContain(cell.replace(/&/g, '&amp;'));
    for (const s of results.samples) for (const a of Object.values(s.answers)) expect(html).toContain(a.trim().replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'));
    const saved = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as TourResults;
    expect(saved.rows).toEqual(results.rows);
    expect(saved.samples).toEqual(results.samples);
    const accuracyChart = readFileSync(join(out, 'charts', 'accuracy-by-method.svg'), 'utf8');
    expect(accuracyChart.startsWith('<svg')).toBe(true);
    expect(accuracyChart).toContain('after fine-tuning');
    expect(readFileSync(join(out, 'charts', 'dylora-accuracy-by-rank.svg'), 'utf8')).toContain('exact-match accuracy');
  }, 600_000);
});
