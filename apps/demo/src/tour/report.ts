// The report directory: charts as SVG, the table as HTML, and the raw figures as JSON.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lossCurvesSpec, policyMemorySpec, policyStepTimeSpec, rankDistributionSpec, rankSweepSpec, renderSvg } from './charts.js';
import { MEASURED_NOTE, rowCells, TABLE_HEADERS } from './table.js';
import type { TourResults } from './tour-types.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export const CHART_FILES = ['loss-curves.svg', 'policy-peak-memory.svg', 'policy-step-time.svg', 'dylora-rank-sweep.svg', 'adalora-rank-distribution.svg'] as const;

/** Writes index.html, results.json and the charts under `dir`; returns the files written. */
export async function writeReport(dir: string, r: TourResults): Promise<string[]> {
  await mkdir(join(dir, 'charts'), { recursive: true });
  const svgs = await Promise.all([
    renderSvg(lossCurvesSpec(r.losses)),
    renderSvg(policyMemorySpec(r.policies)),
    renderSvg(policyStepTimeSpec(r.policies)),
    renderSvg(rankSweepSpec(r.rankSweep)),
    renderSvg(rankDistributionSpec(r.prunedRanks)),
  ]);
  const files: string[] = [];
  for (const [i, name] of CHART_FILES.entries()) {
    const f = join(dir, 'charts', name);
    await writeFile(f, svgs[i]);
    files.push(f);
  }
  const head = TABLE_HEADERS.map((h) => `<th>${esc(h)}</th>`).join('');
  const body = r.rows.map((row) => `<tr>${rowCells(row).map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  const policyRows = r.policies
    .map((p) => `<tr><td>${esc(p.policy)}</td><td>${p.plannedPeakMB.toFixed(2)}</td><td>${p.measuredPeakMB.toFixed(2)}</td><td>${p.stepMs.toFixed(1)}</td></tr>`)
    .join('\n');
  const s = r.settings;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lowrank demo report</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style>
</head><body>
<h1>lowrank: what each method buys</h1>
<p>Base model ${esc('llama-tiny')} (random init) fine-tuned on the repeat task, ${s.steps} steps, rank ${s.rank}, batch ${s.batchSize}, sequence length ${s.seqLen}, AdamW lr ${s.lr}, backend ${esc(s.backend)}${r.quick ? ' (quick mode)' : ''}. Machine: ${esc(r.machine)}. ${esc(r.date)}. Total ${r.seconds.toFixed(1)} s.</p>
<h2>Comparison</h2>
<table><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table>
<p>${esc(MEASURED_NOTE)}.</p>
<h2>Loss curves</h2><img src="charts/loss-curves.svg" alt="training loss per method">
<h2>Checkpoint policies (LoRA)</h2>
<table><thead><tr><th>policy</th><th>planned peak MB</th><th>measured peak MB</th><th>step ms</th></tr></thead><tbody>
${policyRows}
</tbody></table>
<img src="charts/policy-peak-memory.svg" alt="peak memory per checkpoint policy">
<img src="charts/policy-step-time.svg" alt="step time per checkpoint policy">
<h2>DyLoRA: one adapter, every rank</h2>
<p>${r.rankSweep.map((p) => `r=${p.rank}: ${p.heldOut.toFixed(4)}`).join(', ')}</p>
<img src="charts/dylora-rank-sweep.svg" alt="DyLoRA held-out loss by rank">
<h2>AdaLoRA: rank per layer after pruning</h2>
<p>${Object.entries(r.prunedRanks).map(([l, k]) => `${esc(l)}: ${k}`).join(', ')}</p>
<img src="charts/adalora-rank-distribution.svg" alt="rank per layer after AdaLoRA pruning">
</body></html>
`;
  await writeFile(join(dir, 'index.html'), html);
  await writeFile(join(dir, 'results.json'), JSON.stringify(r, null, 2));
  files.push(join(dir, 'index.html'), join(dir, 'results.json'));
  return files;
}
