// Acceptance (issue 9): AdaLoRA's total rank follows the cubic budget schedule
// exactly at the asserted steps and ends at the target; the saved adapter (pruned
// triplets removed, rank_pattern in the config) reloads with the same logits.
// Also the lighter magnitude-threshold policy, and seeded repeatability.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCpuBackend } from '@lowrank/backend-cpu';
import { ops, Trainer, type HostTensor, type StepHook, type StepMetrics } from '@lowrank/core';
import { AdaLoraAllocator, applyAdaLora, initialAdaLoraState, MagnitudeRankPruner, orthogonalRegularizer, prunedAdaLoraState, setAdaLoraTraining, type AdaLoraConfig, type AppliedAdaLora } from '@lowrank/variants';
import { afterAll, describe, expect, it } from 'vitest';
import { traceLanguageModel } from '../forward.js';
import { createPreset } from '../io/presets.js';
import { loadAdaLoraAdapter, saveAdaLoraAdapter } from './adalora-io.js';
import { BATCH, countingBackend, heldOutLogits, maxAbsDiff, SEQ, taskStream } from './task.test-support.js';

const CONFIG: AdaLoraConfig = { init_r: 6, target_r: 2, tinit: 4, tfinal: 6, deltaT: 3, total_step: 40, lora_alpha: 8, target_modules: 'all-linear', orth_reg_weight: 0.5 };

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function train(makeHooks: (applied: AppliedAdaLora) => StepHook[], seed = 0) {
  const backend = countingBackend(createCpuBackend({ threads: 2 }));
  const preset = createPreset('llama-tiny', { seed: 5 });
  const model = preset.model;
  const base = new Map(preset.weights as Map<string, HostTensor>);
  const applied = applyAdaLora(model, CONFIG);
  const hooks = makeHooks(applied);
  const trainer = await Trainer.create({
    backend,
    build: ({ training }) => {
      setAdaLoraTraining(applied, training);
      const t = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ, withLoss: true });
      const reg = training ? orthogonalRegularizer(t.graph, applied) : undefined;
      const loss = reg ? t.graph.at('', [], () => ops.add(t.loss!, ops.mul(reg, CONFIG.orth_reg_weight!))) : t.loss!;
      return { graph: t.graph, loss };
    },
    parameters: Object.fromEntries([...base, ...initialAdaLoraState(applied, 1)]),
    optimizer: { kind: 'adamw', lr: 1e-2 },
    steps: CONFIG.total_step!,
    seed,
    data: taskStream(3),
    hooks,
  });
  const losses: number[] = [];
  const ranks: Record<string, number>[] = [];
  let lastStep: StepMetrics | undefined;
  trainer.subscribe((m) => {
    if (m.type === 'step') {
      losses.push(m.loss);
      ranks.push({ ...((m.metrics?.activeRanks as Record<string, number> | undefined) ?? {}) });
      lastStep = m;
    }
  });
  await trainer.run();
  return { trainer, backend, model, base, applied, losses, ranks, lastStep };
}

/** The schedule written out from PEFT's budget_schedule, independently of the code under test. */
function expectedBudget(step: number, layers: number): number {
  const { init_r, target_r, tinit, tfinal, total_step } = CONFIG as Required<AdaLoraConfig>;
  const mul = 1 - (step - tinit) / (total_step - tfinal - tinit);
  return Math.trunc((init_r * layers - target_r * layers) * mul ** 3 + target_r * layers);
}

describe('AdaLoRA on llama-tiny + backend-cpu', () => {
  it('total rank follows the cubic schedule at every allocation step, ends at the target, and reloads with its rank_pattern', async () => {
    let allocator!: AdaLoraAllocator;
    const run = await train((applied) => [(allocator = new AdaLoraAllocator(applied))]);
    const L = run.applied.layers.length;
    expect(L).toBe(14);
    const end = CONFIG.total_step! - CONFIG.tfinal!;
    const checked: string[] = [];
    for (const h of allocator.history) {
      if (h.step <= CONFIG.tinit!) expect(h.totalRank).toBe(6 * L);
      else if (h.step < end && h.step % CONFIG.deltaT! === 0) {
        expect(h.totalRank).toBe(expectedBudget(h.step, L));
        checked.push(`${h.step}:${h.totalRank}`);
      } else if (h.step >= end) expect(h.totalRank).toBe(2 * L);
    }
    console.log(`AdaLoRA total rank at allocation steps (step:rank): ${checked.join(' ')}; final ${allocator.totalRank} = target ${2 * L}`);
    console.log(`AdaLoRA final rank distribution over layers: ${JSON.stringify(allocator.rankDistribution())}; per-layer importance ${JSON.stringify(Object.fromEntries(Object.entries(allocator.importance).map(([k, v]) => [k, Number(v.toExponential(2))])))}`);
    expect(checked.length).toBeGreaterThanOrEqual(8);
    expect(allocator.totalRank).toBe(2 * L);
    // The metrics stream carries per-layer ranks.
    expect(Object.values(run.ranks.at(-1)!).reduce((a, b) => a + b, 0)).toBe(2 * L);
    // ... and the rank distribution and per-layer importance, for plots.
    expect(run.lastStep?.metrics?.rankDistribution).toEqual(Object.fromEntries(Object.entries(allocator.rankDistribution()).map(([k, v]) => [String(k), v])));
    expect(run.lastStep?.metrics?.layerImportance).toEqual(allocator.importance);
    expect(Object.keys(run.lastStep?.metrics?.layerImportance ?? {})).toHaveLength(L);
    expect(run.backend.compiles).toBe(1);

    // Save with pruned triplets physically removed, reload into a fresh model, same logits.
    const trained = await run.trainer.trainableValues();
    const pattern = allocator.rankPattern();
    const pruned = prunedAdaLoraState(run.applied, trained, pattern);
    const dir = await mkdtemp(join(tmpdir(), 'lowrank-adalora-'));
    dirs.push(dir);
    await saveAdaLoraAdapter(dir, { ...run.applied.config, rank_pattern: pruned.rankPattern }, pruned.tensors);
    const savedTotal = Object.entries(pruned.tensors).filter(([n]) => n.endsWith('.lora_E')).reduce((s, [, t]) => s + t.shape[0], 0);
    expect(savedTotal).toBe(2 * L);
    const json = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as { peft_type: string; rank_pattern: Record<string, boolean[]> };
    expect(json.peft_type).toBe('ADALORA');
    expect(Object.keys(json.rank_pattern)).toContain('model.layers.0.self_attn.q_proj.lora_E');

    setAdaLoraTraining(run.applied, false);
    const before = await heldOutLogits(run.backend, run.model, new Map([...run.base, ...Object.entries(trained)]));
    const loaded = await loadAdaLoraAdapter(dir);
    const fresh = createPreset('llama-tiny', { seed: 5 });
    const reapplied = applyAdaLora(fresh.model, loaded.config as AdaLoraConfig);
    setAdaLoraTraining(reapplied, false);
    expect(reapplied.layers.reduce((s, l) => s + l.r, 0)).toBe(2 * L);
    const after = await heldOutLogits(run.backend, fresh.model, new Map([...(fresh.weights as Map<string, HostTensor>), ...loaded.tensors]));
    const diff = maxAbsDiff(before, after);
    console.log(`AdaLoRA reload with rank_pattern: max |logit difference| ${diff.toExponential(2)}`);
    expect(diff).toBeLessThan(1e-4);
    // And the adapter did learn something: its logits differ from the base model's.
    const baseModel = createPreset('llama-tiny', { seed: 5 });
    const baseLogits = await heldOutLogits(run.backend, baseModel.model, baseModel.weights as Map<string, HostTensor>);
    expect(maxAbsDiff(before, baseLogits)).toBeGreaterThan(1e-2);
    run.trainer.dispose();
  }, 120_000);

  it('same seed gives identical losses and rank patterns', async () => {
    let a1!: AdaLoraAllocator;
    let a2!: AdaLoraAllocator;
    const r1 = await train((applied) => [(a1 = new AdaLoraAllocator(applied))], 4);
    const r2 = await train((applied) => [(a2 = new AdaLoraAllocator(applied))], 4);
    expect(r2.losses).toEqual(r1.losses);
    expect(a2.rankPattern()).toEqual(a1.rankPattern());
    r1.trainer.dispose();
    r2.trainer.dispose();
  }, 120_000);

  it('magnitude-threshold pruning removes the small singular values and keeps the rest', async () => {
    let pruner!: MagnitudeRankPruner;
    const run = await train((applied) => [(pruner = new MagnitudeRankPruner(applied, { threshold: 0.02, start: 20, every: 5 }))]);
    const trained = await run.trainer.trainableValues();
    let kept = 0;
    for (const l of run.applied.layers) {
      const e = trained[l.paramName('lora_E')].data;
      const flags = pruner.rankPattern()[l.paramName('lora_E')];
      for (let i = 0; i < l.r; i++) {
        if (flags[i]) kept++;
        else expect(e[i]).toBe(0);
      }
    }
    const total = run.applied.layers.reduce((s, l) => s + l.r, 0);
    console.log(`magnitude pruning |E| < 0.02: kept ${kept} of ${total} components; distribution ${JSON.stringify(pruner.rankDistribution())}`);
    expect(kept).toBeLessThan(total);
    expect(kept).toBeGreaterThanOrEqual(run.applied.layers.length);
    run.trainer.dispose();
  }, 120_000);
});
