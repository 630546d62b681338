// The report directory: charts as SVG, the table and sample answers as HTML, and the raw figures as JSON.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { accuracyByMethodSpec, lossCurvesSpec, policyMemorySpec, policyStepTimeSpec, rankAccuracySpec, rankDistributionSpec, rankSweepSpec, renderSvg } from './charts.js';
import { MEASURED_NOTE, rowCells, TABLE_HEADERS } from './table.js';
import type { TaskData } from './task.js';
import type { TourResults } from './tour-types.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export const CHART_FILES = [
  'accuracy-by-method.svg',
  'loss-curves.svg',
  'dylora-accuracy-by-rank.svg',
  'dylora-rank-sweep.svg',
  'policy-peak-memory.svg',
  'policy-step-time.svg',
  'adalora-rank-distribution.svg',
] as const;

function samplesTable(r: TourResults): string {
  if (!r.samples.length) return '';
  const methods = Object.keys(r.samples[0].answers);
  const cell = (answer: string, expected: string) => `<td class="${answer === expected ? 'ok' : 'miss'}">${esc(answer.trim()) || '<i>(nothing)</i>'}</td>`;
  const head = ['prompt', 'expected', 'base model', ...methods].map((h) => `<th>${esc(h)}</th>`).join('');
  const body = r.samples
    .map((s) => `<tr><td><code>${esc(s.prompt)}</code></td><td>${esc(s.expected.trim())}</td>${cell(s.base, s.expected)}${methods.map((m) => cell(s.answers[m], s.expected)).join('')}</tr>`)
    .join('\n');
  return `<table class="samples"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Writes index.html, results.json and the charts under `dir`; returns the files written. */
export async function writeReport(dir: string, r: TourResults): Promise<string[]> {
  await mkdir(join(dir, 'charts'), { recursive: true });
  const svgs = await Promise.all([
    renderSvg(accuracyByMethodSpec(r.rows)),
    renderSvg(lossCurvesSpec(r.losses)),
    renderSvg(rankAccuracySpec(r.rankSweep)),
    renderSvg(rankSweepSpec(r.rankSweep)),
    renderSvg(policyMemorySpec(r.policies)),
    renderSvg(policyStepTimeSpec(r.policies)),
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
    .map((p) => `<tr><td>${esc(p.policy)}</td><td>${p.plannedPeakMB.toFixed(2)}</td><td>${p.measuredPeakMB.toFixed(2)}</td><td>${p.peakRssMB.toFixed(0)}</td><td>${p.stepMs.toFixed(1)}</td></tr>`)
    .join('\n');
  const mergeRows = r.merge
    .map((m) => `<tr><td>${esc(m.task)}</td><td>${m.base.toFixed(2)}</td><td>${m.single.toFixed(2)}</td><td>${m.merged.toFixed(2)}</td></tr>`)
    .join('\n');
  const adapterList = Object.entries(r.adapters)
    .map(([label, rel]) => `<li>${esc(label)}: <code>${esc(rel)}</code></li>`)
    .join('');
  const s = r.settings;
  const b = r.base;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lowrank demo report</title>
<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.samples td{text-align:left}.ok{background:#e6f4ea}.miss{background:#fbe9e7}</style>
</head><body>
<h1>lowrank: a base model that cannot do a task, a few seconds of fine-tuning, and then it can</h1>
<p><b>Base model</b>: a LLaMA-shaped model with ${b.parameters.toLocaleString('en-US')} parameters (${b.layers} layers, width ${b.hiddenSize}, BPE vocabulary of ${b.vocabSize} tokens),
pretrained on this machine on ${esc(b.corpus)} (${b.corpusTokens.toLocaleString('en-US')} tokens, ${b.pretrainSteps} steps, ${b.pretrainSeconds.toFixed(0)} s; held-out loss ${b.heldOutLoss.toFixed(3)} nats/token).
${b.reused ? 'Reused from the cache' : 'Pretrained in this run'}: <code>${esc(b.dir)}</code>.</p>
<p><b>Task</b>: ${esc(r.task.description)}. Words from a set of ${r.task.words.length} (${esc(r.task.words.join(', '))}); ${r.task.trainPrompts} training prompts, ${r.task.heldOutPrompts} held-out prompts never trained on.
<b>Exact match</b>: the greedy answer (up to the end-of-sequence token) equals the expected answer exactly.</p>
<p>Every method: ${s.steps} steps, rank ${s.rank}, batch ${s.batchSize}, sequence length ${s.seqLen}, AdamW lr ${s.lr}, backend ${esc(s.backend)}${r.quick ? ' (quick mode)' : ''}.
Machine: ${esc(r.machine)}, load average ${r.loadAverage[0].toFixed(2)} at the start and ${r.loadAverage[1].toFixed(2)} at the end. ${esc(r.date)}. Total ${r.seconds.toFixed(1)} s.</p>
<h2>Answers to held-out prompts</h2>
<p>Generated by each model while this report was made (green: exact match).</p>
${samplesTable(r)}
<h2>Comparison</h2>
<table><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table>
<p>${esc(MEASURED_NOTE)}. Process-wide maxRSS at the end: ${(r.processMaxRssBytes / 1e6).toFixed(0)} MB.</p>
<img src="charts/accuracy-by-method.svg" alt="exact match by method, before and after">
<h2>Loss curves</h2><img src="charts/loss-curves.svg" alt="training loss per method">
<h2>Merging two adapters</h2>
<p>The LoRA adapter above (first) and a LoRA adapter trained on a second task (${esc('last: w1 w2 w3 -> w3')}) are combined by PEFT's <code>cat</code> merge (both updates applied at once, no retraining); exact match on each task's held-out prompts.
Two adapters trained separately on tasks that ask for different answers to near-identical prompts interfere when summed: the table shows how much of each task survives the merge.</p>
<table><thead><tr><th>task</th><th>base</th><th>its own adapter</th><th>merged adapter</th></tr></thead><tbody>
${mergeRows}
</tbody></table>
<h2>DyLoRA: one adapter, every rank</h2>
<p>${r.rankSweep.map((p) => `r=${p.rank}: loss ${p.heldOut.toFixed(3)}, exact match ${p.accuracy.toFixed(2)}`).join('; ')}</p>
<img src="charts/dylora-accuracy-by-rank.svg" alt="DyLoRA exact match by rank">
<img src="charts/dylora-rank-sweep.svg" alt="DyLoRA held-out loss by rank">
<h2>Checkpoint policies (LoRA)</h2>
<table><thead><tr><th>policy</th><th>planned peak MB</th><th>measured peak MB (backend tensors)</th><th>peak RSS MB</th><th>step ms</th></tr></thead><tbody>
${policyRows}
</tbody></table>
<img src="charts/policy-peak-memory.svg" alt="peak memory per checkpoint policy">
<img src="charts/policy-step-time.svg" alt="step time per checkpoint policy">
<h2>AdaLoRA: rank per layer after pruning</h2>
<p>${Object.entries(r.prunedRanks).map(([l, k]) => `${esc(l)}: ${k}`).join(', ')}</p>
<img src="charts/adalora-rank-distribution.svg" alt="rank per layer after AdaLoRA pruning">
<h2>Saved adapters (PEFT format)</h2>
<ul>${adapterList}</ul>
<p>Try one: <code>lowrank generate --model ${esc(b.dir)} --adapter ${esc(join(dir, Object.values(r.adapters)[0] ?? 'adapters/lora'))} --prompt "${esc(r.samples[0]?.prompt ?? '')}"</code></p>
</body></html>
`;
  await writeFile(join(dir, 'index.html'), html);
  await writeFile(join(dir, 'results.json'), JSON.stringify(r, null, 2));
  files.push(join(dir, 'index.html'), join(dir, 'results.json'));
  return files;
}

/**
 * What the README's `lowrank train/eval/generate` commands read: the task as JSONL files of
 * {"prompt", "completion"} rows, and base-model.txt naming the cached base model directory.
 */
export async function writeTaskFiles(dir: string, baseDir: string, task: TaskData): Promise<string[]> {
  await mkdir(join(dir, 'data'), { recursive: true });
  const jsonl = (rows: TaskData['trainExamples']) => rows.map((e) => JSON.stringify({ prompt: e.prompt, completion: e.answer })).join('\n') + '\n';
  const written: [string, string][] = [
    [join(dir, 'data', `${task.tasks[0]}-train.jsonl`), jsonl(task.trainExamples)],
    [join(dir, 'data', `${task.tasks[0]}-heldout.jsonl`), jsonl(task.heldOutExamples)],
    [join(dir, 'base-model.txt'), `${baseDir}\n`],
  ];
  for (const [f, text] of written) await writeFile(f, text);
  return written.map(([f]) => f);
}
