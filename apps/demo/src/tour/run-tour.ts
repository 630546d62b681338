// The terminal tour: a small LLaMA pretrained on fortunes cannot do the task; every method fine-tunes it,
// is measured, and answers held-out prompts. Then one table and one report.
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Backend, CheckpointPolicy } from '@lowrank/core';
import type { AdaLoraAllocator, DyLoraHook } from '@lowrank/variants';
import type { VariantName } from '../cli/command-options.js';
import { createBackend } from '../cli/runtime/backends.js';
import { loadBaseModel } from '../cli/runtime/base-model.js';
import { ensureDemoBase } from '../demo-base/cache.js';
import { DEMO_BASE, TEST_BASE, type DemoBaseRecipe } from '../demo-base/recipe.js';
import { accuracyOf } from './accuracy.js';
import { loraDropAdapters, LORA_DROP_THRESHOLD, selectLoraDropLayers } from './lora-drop-demo.js';
import { mergeTwoAdapters } from './merge-demo.js';
import { ProgressBar, type BarOutput } from './progress-bar.js';
import { writeReport, writeTaskFiles } from './report.js';
import { processMaxRss } from './rss.js';
import { formatSamples, pickSamples } from './samples.js';
import { formatTable, MEASURED_NOTE, tourFailures } from './table.js';
import { combineTasks, makeTask, TASK_DESCRIPTIONS, type TaskData } from './task.js';
import type { TourResults, TourRow } from './tour-types.js';
import { trainMethod, type AdapterFactory, type MethodCallbacks, type MethodResult, type MethodSettings } from './train-method.js';
import { adaLoraAdapters, dyLoraAdapters, sweepRanks } from './variants-two.js';

export interface TourOptions {
  readonly out: string;
  /** Fewer steps (and, unless `recipe` says otherwise, the small test base): for tests. */
  readonly quick: boolean;
  readonly backend?: 'cpu' | 'reference';
  /** The base to pretrain or reuse (default: DEMO_BASE). */
  readonly recipe?: DemoBaseRecipe;
  /** Where the pretrained base is cached (default: $XDG_CACHE_HOME/lowrank or ~/.cache/lowrank). */
  readonly cacheRoot?: string;
}

const POLICIES: readonly CheckpointPolicy[] = ['none', 'sqrt', 'every:1', 'save-matmuls'];
const SEQ_LEN = 16;

export interface TourOutcome {
  readonly results: TourResults;
  readonly files: string[];
  readonly failed: string[];
}

function row(method: string, r: MethodResult): TourRow {
  return {
    method,
    trainableParams: r.trainableParams,
    adapterBytes: r.adapterBytes,
    baseWeightBytes: r.baseWeightBytes,
    peakRssBytes: r.peakRssBytes,
    rssRiseBytes: r.peakRssBytes - r.startRssBytes,
    stepMs: r.stepMs,
    heldOutBefore: r.heldOutBefore,
    heldOutAfter: r.heldOutAfter,
    accuracyBefore: accuracyOf(r.matchBefore),
    accuracyAfter: accuracyOf(r.matchAfter),
    heldOutPrompts: r.matchAfter.total,
  };
}

export async function runTour(o: TourOptions, out: BarOutput): Promise<TourOutcome> {
  const started = performance.now();
  const loadStart = loadavg()[0];
  const backendName = o.backend ?? 'cpu';
  const recipe = o.recipe ?? (o.quick ? TEST_BASE : DEMO_BASE);

  // 1. The base model: pretrained once on the fortunes corpus, then reused from the cache.
  let pretrainBar: ProgressBar | undefined;
  const demoBase = await ensureDemoBase({
    recipe,
    ...(o.cacheRoot ? { cacheRoot: o.cacheRoot } : {}),
    backend: () => createBackend(backendName),
    progress: {
      reused: (dir) => out.write(`reusing the cached base model at ${dir}\n`),
      building: (dir) => out.write(`pretraining the base model once (recipe '${recipe.name}', ${recipe.steps} steps; cached at ${dir})\n`),
      tokenizer: (s, v) => out.write(`  BPE tokenizer: ${v} tokens trained in ${s.toFixed(1)} s\n`),
      step: (step, total, loss) => (pretrainBar ??= new ProgressBar(out, '  pretraining', total)).update(step, loss),
    },
  });
  const m = demoBase.manifest;
  out.write(
    `base: LLaMA, ${m.parameters.toLocaleString('en-US')} parameters (${m.recipe.layers} layers, width ${m.recipe.hiddenSize}, BPE vocabulary ${m.recipe.vocabSize}), ` +
      `pretrained on ${m.corpus.source}: ${m.corpus.tokens.toLocaleString('en-US')} tokens, held-out loss ${m.heldOutLoss.toFixed(3)}\n`,
  );
  const loadBase = () => loadBaseModel(demoBase.dir);
  const tok = (await loadBase()).tokenizer;

  const steps = o.quick ? 150 : 200;
  const base = { rank: 8, steps, lr: 3e-3, batchSize: 16, checkpointing: 'none' as CheckpointPolicy, seed: 3 };
  const first = makeTask(tok, { tasks: ['first'], trainPerTask: 250, heldOutPerTask: 64, seqLen: SEQ_LEN, seed: 1 });
  const withBackend = async <T>(f: (b: Backend) => Promise<T>): Promise<T> => {
    const b = await createBackend(backendName);
    try {
      return await f(b);
    } finally {
      b.dispose();
    }
  };
  const train = (label: string, s: MethodSettings, task: TaskData = first, adapters?: AdapterFactory, afterTraining?: MethodCallbacks['afterTraining']) =>
    withBackend((backend) => {
      const bar = new ProgressBar(out, label, s.steps);
      return trainMethod({ backend, task, loadBase }, s, { onStep: (m) => bar.update(m.step, m.loss), ...(afterTraining ? { afterTraining } : {}) }, adapters);
    });

  out.write(`task: ${TASK_DESCRIPTIONS.first} (${first.trainExamples.length} training prompts, ${first.heldOutExamples.length} held-out prompts never trained on)\n`);
  out.write(`fine-tuning each method for ${steps} steps${o.quick ? ' (quick mode)' : ''}, backend ${backendName}\n`);
  const rows: TourRow[] = [];
  const losses: Record<string, readonly number[]> = {};
  const finished: [string, MethodResult][] = [];
  const adapterDirs: Record<string, string> = {};
  const methods: [string, VariantName][] = [
    ['LoRA', 'lora'],
    ['DoRA', 'dora'],
    ['QLoRA (NF4 base)', 'qlora'],
  ];
  for (const [label, variant] of methods) {
    const r = await train(label, { ...base, variant });
    rows.push(row(label, r));
    losses[label] = r.losses;
    finished.push([label, r]);
    // Saved as PEFT directories: `lowrank generate --adapter` answers with them (and the tour test does).
    const rel = join('adapters', variant);
    await r.adapted.saveAdapter?.(join(o.out, rel), r.trained);
    adapterDirs[label] = rel;
  }

  // DyLoRA: one adapter trained with random ranks 1..r, then evaluated at several ranks without retraining.
  let dyHook: DyLoraHook | undefined;
  const rankSweep: { rank: number; heldOut: number; accuracy: number }[] = [];
  const dy = await train(`DyLoRA (r 1..${base.rank})`, { ...base, variant: 'lora' }, first, dyLoraAdapters((h) => (dyHook = h)), async (t, answer) => {
    for (const k of sweepRanks(base.rank)) {
      dyHook!.evalRank = k;
      rankSweep.push({ rank: k, heldOut: (await t.evaluate()).loss, accuracy: accuracyOf(await answer()) });
    }
    dyHook!.evalRank = base.rank;
  });
  rows.push(row(`DyLoRA (evaluated at r=${base.rank})`, dy));
  losses['DyLoRA'] = dy.losses;
  finished.push([`DyLoRA r=${base.rank}`, dy]);
  // A rank-k cut of the adapter keeps k of its r components (and saves as a plain rank-k LoRA).
  for (const p of rankSweep.slice(0, -1)) {
    const share = p.rank / base.rank;
    rows.push({ ...row(`DyLoRA evaluated at r=${p.rank}`, dy), trainableParams: dy.trainableParams * share, adapterBytes: dy.adapterBytes * share, heldOutAfter: p.heldOut, accuracyAfter: p.accuracy, stepMs: null, peakRssBytes: null, rssRiseBytes: null });
  }

  // AdaLoRA: starts above the tour's rank and prunes singular triplets to a budget, layer by layer.
  let allocator: AdaLoraAllocator | undefined;
  const ada = await train('AdaLoRA', { ...base, variant: 'lora' }, first, adaLoraAdapters((a) => (allocator = a)));
  const prunedRanks = allocator!.activeRanks();
  const adaLabel = `AdaLoRA (ranks ${Math.min(...Object.values(prunedRanks))}..${Math.max(...Object.values(prunedRanks))} after pruning)`;
  rows.push(row(adaLabel, ada));
  losses['AdaLoRA'] = ada.losses;
  finished.push(['AdaLoRA', ada]);

  // LoRA-Drop: a short LoRA warm-up picks the layers that matter; the others share one adapter per shape.
  const warmSteps = Math.max(5, Math.round(steps * 0.2));
  const warm = await train('LoRA-Drop warm-up', { ...base, variant: 'lora', steps: warmSteps });
  const selection = await withBackend((b) => selectLoraDropLayers(b, warm, first, base.batchSize));
  const drop = await train(`LoRA-Drop (${selection.kept.length} own + shared)`, { ...base, variant: 'lora' }, first, loraDropAdapters(selection.dropped));
  const dropLabel = `LoRA-Drop (${selection.kept.length}/${selection.kept.length + selection.dropped.length} layers own, rest shared)`;
  rows.push(row(dropLabel, drop));
  losses['LoRA-Drop'] = drop.losses;
  finished.push(['LoRA-Drop', drop]);

  // Merge: the LoRA adapter above (first) and one trained on a second task (last), combined by PEFT's
  // `cat`; the merged adapter answers both tasks.
  const last = makeTask(tok, { tasks: ['last'], trainPerTask: 250, heldOutPerTask: 64, seqLen: SEQ_LEN, seed: 2, words: first.words });
  const loraFirst = finished[0][1];
  const loraLast = await train('LoRA on the last-word task', { ...base, variant: 'lora', seed: 5 }, last);
  const both = combineTasks(first, last);
  const merged = await withBackend((b) => mergeTwoAdapters(b, loadBase, loraFirst, loraLast, base.rank, [first, last], both, base.batchSize));
  const baseLast = accuracyOf(loraLast.matchBefore);
  const mergeAccuracy = [
    { task: 'first', single: accuracyOf(loraFirst.matchAfter), merged: merged.accuracy[0], base: accuracyOf(loraFirst.matchBefore) },
    { task: 'last', single: accuracyOf(loraLast.matchAfter), merged: merged.accuracy[1], base: baseLast },
  ];
  rows.push({
    method: 'merge (cat) of LoRA first & LoRA last, on both tasks',
    trainableParams: merged.trainableParams,
    adapterBytes: merged.adapterBytes,
    baseWeightBytes: loraFirst.baseWeightBytes,
    peakRssBytes: null,
    rssRiseBytes: null,
    stepMs: null,
    heldOutBefore: (loraFirst.heldOutBefore + loraLast.heldOutBefore) / 2,
    heldOutAfter: merged.heldOutAfter,
    accuracyBefore: (accuracyOf(loraFirst.matchBefore) + baseLast) / 2,
    accuracyAfter: (merged.accuracy[0] + merged.accuracy[1]) / 2,
    heldOutPrompts: both.heldOutExamples.length,
  });

  // Checkpoint policies: planned and measured peak memory and step time of a few LoRA steps each.
  const policies = [];
  for (const policy of POLICIES) {
    const name = typeof policy === 'string' ? policy : `budget:${policy.budgetBytes}`;
    const r = await train(`LoRA, checkpoint ${name}`, { ...base, variant: 'lora', steps: o.quick ? 4 : 12, checkpointing: policy });
    policies.push({ policy: name, plannedPeakMB: r.plannedPeakBytes / 1e6, measuredPeakMB: r.measuredPeakBytes / 1e6, peakRssMB: r.peakRssBytes / 1e6, stepMs: r.stepMs });
  }

  const samples = pickSamples(finished, 3);
  const results: TourResults = {
    machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
    loadAverage: [loadStart, loadavg()[0]],
    date: new Date().toISOString(),
    quick: o.quick,
    base: {
      dir: demoBase.dir,
      reused: demoBase.reused,
      parameters: m.parameters,
      vocabSize: m.recipe.vocabSize,
      layers: m.recipe.layers,
      hiddenSize: m.recipe.hiddenSize,
      corpus: m.corpus.source,
      corpusTokens: m.corpus.tokens,
      pretrainSteps: m.recipe.steps,
      pretrainSeconds: m.pretrainSeconds,
      heldOutLoss: m.heldOutLoss,
    },
    task: { name: 'first', description: TASK_DESCRIPTIONS.first, trainPrompts: first.trainExamples.length, heldOutPrompts: first.heldOutExamples.length, words: first.words, maxNewTokens: finished[0][1].matchAfter.maxNewTokens },
    settings: { steps, rank: base.rank, batchSize: base.batchSize, seqLen: SEQ_LEN, lr: base.lr, backend: backendName },
    rows,
    samples,
    adapters: adapterDirs,
    losses,
    policies,
    rankSweep,
    prunedRanks,
    loraDrop: { threshold: LORA_DROP_THRESHOLD, warmupSteps: warmSteps, kept: selection.kept, dropped: selection.dropped, importance: selection.normalized },
    merge: mergeAccuracy,
    processMaxRssBytes: processMaxRss(),
    seconds: (performance.now() - started) / 1000,
  };
  out.write(`\n${formatTable(rows)}\n`);
  out.write(`\n${MEASURED_NOTE}\n`);
  out.write(`DyLoRA by rank: ${rankSweep.map((p) => `r=${p.rank} loss ${p.heldOut.toFixed(3)} exact ${p.accuracy.toFixed(2)}`).join(', ')}\n`);
  out.write(`LoRA-Drop kept ${selection.kept.length} layers (cumulative importance ${selection.cumulative.toFixed(3)} >= ${LORA_DROP_THRESHOLD}); shared: ${selection.dropped.length}\n`);
  out.write(`AdaLoRA ranks after pruning: ${Object.values(prunedRanks).join(' ')}\n`);
  out.write(`merge: exact match first ${merged.accuracy[0].toFixed(2)}, last ${merged.accuracy[1].toFixed(2)} (single adapters: ${mergeAccuracy[0].single.toFixed(2)}, ${mergeAccuracy[1].single.toFixed(2)})\n`);
  out.write(`\n${formatSamples(samples)}\n`);
  const files = await writeReport(o.out, results);
  files.push(...(await writeTaskFiles(o.out, demoBase.dir, first)));
  out.write(`\nreport: ${o.out}/index.html (${files.length} files) in ${results.seconds.toFixed(1)} s (load average ${results.loadAverage[0].toFixed(2)} -> ${results.loadAverage[1].toFixed(2)})\n`);
  return { results, files, failed: tourFailures(rows, { requireTarget: !o.quick }) };
}
