// The terminal tour: every method on the same task, measured, then one table and one report.
import { cpus } from 'node:os';
import type { Backend, CheckpointPolicy } from '@lowrank/core';
import type { VariantName } from '../cli/command-options.js';
import { createBackend } from '../cli/runtime/backends.js';
import { mergeTwoAdapters } from './merge-demo.js';
import { ProgressBar, type BarOutput } from './progress-bar.js';
import { writeReport } from './report.js';
import { formatTable, MEASURED_NOTE, methodsWithoutImprovement } from './table.js';
import { makeTask, TASK_PAIRS } from './task.js';
import type { TourResults, TourRow } from './tour-types.js';
import { trainMethod, type AdapterFactory, type MethodCallbacks, type MethodResult, type MethodSettings } from './train-method.js';
import { loraDropAdapters, LORA_DROP_THRESHOLD, selectLoraDropLayers } from './lora-drop-demo.js';
import { adaLoraAdapters, dyLoraAdapters, sweepRanks } from './variants-two.js';
import type { AdaLoraAllocator, DyLoraHook } from '@lowrank/variants';

export interface TourOptions {
  readonly out: string;
  readonly quick: boolean;
  readonly backend?: 'cpu' | 'reference';
}

const POLICIES: readonly CheckpointPolicy[] = ['none', 'sqrt', 'every:1', 'save-matmuls'];

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
    plannedPeakBytes: r.plannedPeakBytes,
    measuredPeakBytes: r.measuredPeakBytes,
    stepMs: r.stepMs,
    heldOutBefore: r.heldOutBefore,
    heldOutAfter: r.heldOutAfter,
  };
}

export async function runTour(o: TourOptions, out: BarOutput): Promise<TourOutcome> {
  const started = performance.now();
  const backendName = o.backend ?? 'cpu';
  const steps = o.quick ? 40 : 200;
  const base = { rank: 8, steps, lr: 0.01, batchSize: 8, checkpointing: 'none' as CheckpointPolicy, seed: 3 };
  const seqLen = 24;
  const task = makeTask({ trainRows: 240, heldOutRows: 48, seqLen, seed: 1 });
  const withBackend = async <T>(f: (b: Backend) => Promise<T>): Promise<T> => {
    const b = await createBackend(backendName);
    try {
      return await f(b);
    } finally {
      b.dispose();
    }
  };
  const train = (label: string, s: MethodSettings, data = task, adapters?: AdapterFactory, afterTraining?: MethodCallbacks['afterTraining']) =>
    withBackend((b) => {
      const bar = new ProgressBar(out, label, s.steps);
      return trainMethod(b, data, s, { onStep: (m) => bar.update(m.step, m.loss), ...(afterTraining ? { afterTraining } : {}) }, adapters);
    });

  out.write(`lowrank tour: fine-tuning llama-tiny (random init) on a task it cannot do, once per method (${o.quick ? 'quick mode, ' : ''}${steps} steps each, backend ${backendName})\n`);
  const rows: TourRow[] = [];
  const losses: Record<string, readonly number[]> = {};
  const methods: [string, VariantName][] = [
    ['LoRA', 'lora'],
    ['DoRA', 'dora'],
    ['QLoRA (NF4 base)', 'qlora'],
  ];
  for (const [label, variant] of methods) {
    const r = await train(label, { ...base, variant });
    rows.push(row(label, r));
    losses[label] = r.losses;
  }

  // DyLoRA: one adapter trained with random ranks 1..r, then evaluated at several ranks without retraining.
  let dyHook: DyLoraHook | undefined;
  const rankSweep: { rank: number; heldOut: number }[] = [];
  const dy = await train(`DyLoRA (r 1..${base.rank})`, { ...base, variant: 'lora' }, task, dyLoraAdapters((h) => (dyHook = h)), async (t) => {
    for (const k of sweepRanks(base.rank)) {
      dyHook!.evalRank = k;
      rankSweep.push({ rank: k, heldOut: (await t.evaluate()).loss });
    }
    dyHook!.evalRank = base.rank;
  });
  rows.push(row(`DyLoRA (evaluated at r=${base.rank})`, dy));
  losses['DyLoRA'] = dy.losses;
  // A rank-k cut of the adapter keeps k of its r components (and saves as a plain rank-k LoRA).
  for (const p of rankSweep.slice(0, -1)) {
    const share = p.rank / base.rank;
    rows.push({ ...row(`DyLoRA evaluated at r=${p.rank}`, dy), trainableParams: dy.trainableParams * share, adapterBytes: dy.adapterBytes * share, heldOutAfter: p.heldOut, stepMs: null, plannedPeakBytes: null, measuredPeakBytes: null });
  }

  // AdaLoRA: starts above the tour's rank and prunes singular triplets to a budget, layer by layer.
  let allocator: AdaLoraAllocator | undefined;
  const ada = await train('AdaLoRA', { ...base, variant: 'lora' }, task, adaLoraAdapters((a) => (allocator = a)));
  const prunedRanks = allocator!.activeRanks();
  rows.push(row(`AdaLoRA (ranks ${Math.min(...Object.values(prunedRanks))}..${Math.max(...Object.values(prunedRanks))} after pruning)`, ada));
  losses['AdaLoRA'] = ada.losses;

  // LoRA-Drop: a short LoRA warm-up picks the layers that matter; the others share one adapter per shape.
  const warmSteps = Math.max(5, Math.round(steps * 0.2));
  const warm = await train('LoRA-Drop warm-up', { ...base, variant: 'lora', steps: warmSteps });
  const selection = await withBackend((b) => selectLoraDropLayers(b, warm, task, base.batchSize));
  const drop = await train(`LoRA-Drop (${selection.kept.length} own + shared)`, { ...base, variant: 'lora' }, task, loraDropAdapters(selection.dropped));
  rows.push(row(`LoRA-Drop (${selection.kept.length}/${selection.kept.length + selection.dropped.length} layers own, rest shared)`, drop));
  losses['LoRA-Drop'] = drop.losses;

  // Merge: one adapter per half of the pairs, then PEFT's `cat` combination scored on all pairs.
  const halfSteps = Math.round(steps * 0.6);
  const halves = [TASK_PAIRS.slice(0, 2), TASK_PAIRS.slice(2)];
  const trained: MethodResult[] = [];
  for (const [i, pairs] of halves.entries()) {
    const half = { ...makeTask({ trainRows: 120, heldOutRows: 48, seqLen, seed: 11 + i, pairs }), heldOut: task.heldOut };
    trained.push(await train(`LoRA on ${pairs.join('+')}`, { ...base, variant: 'lora', steps: halfSteps, seed: 5 + i }, half));
  }
  const merged = await withBackend((b) => mergeTwoAdapters(b, trained[0], trained[1], base.rank, task, base.batchSize));
  rows.push({
    method: `merge (cat) of ${halves.map((p) => p.join('+')).join(' & ')}`,
    trainableParams: merged.trainableParams,
    adapterBytes: merged.adapterBytes,
    baseWeightBytes: trained[0].baseWeightBytes,
    plannedPeakBytes: null,
    measuredPeakBytes: null,
    stepMs: null,
    heldOutBefore: trained[0].heldOutBefore,
    heldOutAfter: merged.heldOutAfter,
  });

  // Checkpoint policies: planned and measured peak memory and step time of a few LoRA steps each.
  const policies = [];
  for (const policy of POLICIES) {
    const name = typeof policy === 'string' ? policy : `budget:${policy.budgetBytes}`;
    const r = await train(`LoRA, checkpoint ${name}`, { ...base, variant: 'lora', steps: o.quick ? 4 : 20, checkpointing: policy });
    policies.push({ policy: name, plannedPeakMB: r.plannedPeakBytes / 1e6, measuredPeakMB: r.measuredPeakBytes / 1e6, stepMs: r.stepMs });
  }

  const results: TourResults = {
    machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`,
    date: new Date().toISOString(),
    quick: o.quick,
    settings: { steps, rank: base.rank, batchSize: base.batchSize, seqLen, lr: base.lr, backend: backendName },
    rows,
    losses,
    policies,
    rankSweep,
    prunedRanks,
    loraDrop: { threshold: LORA_DROP_THRESHOLD, warmupSteps: warmSteps, kept: selection.kept, dropped: selection.dropped, importance: selection.normalized },
    seconds: (performance.now() - started) / 1000,
  };
  out.write(`\n${formatTable(rows)}\n`);
  out.write(`\n${MEASURED_NOTE}\n`);
  out.write(`DyLoRA held-out loss by rank: ${rankSweep.map((p) => `r=${p.rank} ${p.heldOut.toFixed(4)}`).join(', ')}\n`);
  out.write(`LoRA-Drop kept ${selection.kept.length} layers (cumulative importance ${selection.cumulative.toFixed(3)} >= ${LORA_DROP_THRESHOLD}); shared: ${selection.dropped.length}\n`);
  out.write(`AdaLoRA ranks after pruning: ${Object.values(prunedRanks).join(' ')}\n`);
  const files = await writeReport(o.out, results);
  out.write(`report: ${o.out}/index.html (${files.length} files) in ${results.seconds.toFixed(1)} s\n`);
  return { results, files, failed: methodsWithoutImprovement(rows) };
}
