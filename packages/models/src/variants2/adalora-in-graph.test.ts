// Acceptance (issue 19): AdaLoRA's importance averages and keep-mask, and the
// magnitude pruner's mask, live in the step graph. On backend-cpu a step moves
// no gradient or parameter to the host (transfers are counted), and a 30-step
// run gives the losses, rank patterns and budgets of the host-side
// implementation it replaced (kept as a test reference) on the same seed.
import { createCpuBackend } from '@lowrank/backend-cpu';
import { ops, Trainer, type Backend, type Executable, type HostTensor, type StepHook } from '@lowrank/core';
import { AdaLoraAllocator, applyAdaLora, initialAdaLoraState, MagnitudeRankPruner, orthogonalRegularizer, setAdaLoraTraining, type AdaLoraConfig, type AppliedAdaLora } from '@lowrank/variants';
import { describe, expect, it } from 'vitest';
import { traceLanguageModel } from '../forward.js';
import { createPreset } from '../io/presets.js';
import { HostAdaLoraAllocator, HostMagnitudeRankPruner } from './adalora-host-reference.test-support.js';
import { BATCH, SEQ, taskStream } from './task.test-support.js';

const STEPS = 30;
const CONFIG: AdaLoraConfig = { init_r: 6, target_r: 2, tinit: 3, tfinal: 6, deltaT: 3, total_step: STEPS, lora_alpha: 8, target_modules: 'all-linear', orth_reg_weight: 0.5 };

/** Host ↔ backend traffic of the training executable once training has started. */
interface Traffic {
  /** Names passed to getParameters (downloads of resident tensors). */
  downloads: string[];
  /** Names passed to setParameters (uploads). */
  uploads: string[];
  /** Output names and float counts read back per run. */
  outputs: Map<string, number>;
  runs: number;
}

/** Wraps the backend so the training executable (the first compile) counts what crosses to the host. */
function metered(inner: Backend): { backend: Backend; traffic: Traffic; arm: (on: boolean) => void } {
  const traffic: Traffic = { downloads: [], uploads: [], outputs: new Map(), runs: 0 };
  let armed = false;
  let wrapped = false;
  const backend = Object.create(inner) as Backend;
  backend.compile = async (graph, sig) => {
    const exe = await inner.compile(graph, sig);
    if (wrapped) return exe;
    wrapped = true;
    const counted: Executable = {
      report: exe.report,
      setParameters: (v) => (armed && traffic.uploads.push(...Object.keys(v)), exe.setParameters(v)),
      getParameters: (n) => (armed && traffic.downloads.push(...(n ?? ['<all>'])), exe.getParameters(n)),
      async run(feeds) {
        const out = await exe.run(feeds);
        if (armed) {
          traffic.runs++;
          for (const [k, t] of Object.entries(out)) traffic.outputs.set(k, t.data.length);
        }
        return out;
      },
      dispose: () => exe.dispose(),
    };
    return counted;
  };
  return { backend, traffic, arm: (on) => void (armed = on) };
}

interface RunResult {
  losses: number[];
  traffic: Traffic;
  trained: Record<string, HostTensor>;
  applied: AppliedAdaLora;
}

async function train(makeHook: (applied: AppliedAdaLora) => StepHook, hostSide: boolean): Promise<RunResult> {
  const { backend, traffic, arm } = metered(createCpuBackend({ threads: 2 }));
  const preset = createPreset('llama-tiny', { seed: 5 });
  const applied = applyAdaLora(preset.model, CONFIG);
  const trainer = await Trainer.create({
    backend,
    build: ({ training }) => {
      setAdaLoraTraining(applied, training);
      const t = traceLanguageModel(preset.model, { batch: BATCH, seqLen: SEQ, withLoss: true });
      const reg = training ? orthogonalRegularizer(t.graph, applied) : undefined;
      return { graph: t.graph, loss: reg ? t.graph.at('', [], () => ops.add(t.loss!, ops.mul(reg, CONFIG.orth_reg_weight!))) : t.loss! };
    },
    parameters: Object.fromEntries([...(preset.weights as Map<string, HostTensor>), ...initialAdaLoraState(applied, 1)]),
    optimizer: { kind: 'adamw', lr: 1e-2 },
    steps: STEPS,
    seed: 7,
    // Only the host-side reference reads gradients.
    exposeGradients: hostSide,
    data: taskStream(3),
    hooks: [makeHook(applied)],
  });
  arm(true);
  const losses: number[] = [];
  trainer.subscribe((m) => void (m.type === 'step' && losses.push(m.loss)));
  await trainer.run();
  arm(false);
  const trained = await trainer.trainableValues();
  trainer.dispose();
  return { losses, traffic, trained, applied };
}

function expectSameLosses(inGraph: readonly number[], host: readonly number[]): number {
  expect(inGraph).toHaveLength(STEPS);
  let worst = 0;
  for (let i = 0; i < STEPS; i++) {
    expect(Math.abs(inGraph[i] - host[i]), `step ${i + 1}: ${inGraph[i]} vs ${host[i]}`).toBeLessThanOrEqual(1e-6);
    worst = Math.max(worst, Math.abs(inGraph[i] - host[i]));
  }
  return worst;
}

/** A step reads only the loss, norm and ok flag and the hook's small mask/score outputs; nothing else crosses. */
function expectNoTensorTraffic(t: Traffic, allowed: Record<string, number>): void {
  expect(t.downloads).toEqual([]);
  expect(t.uploads).toEqual([]);
  expect(t.runs).toBe(STEPS);
  expect(Object.fromEntries(t.outputs)).toEqual({ loss: 1, grad_norm: 1, step_ok: 1, ...allowed });
}

describe('AdaLoRA and magnitude pruning in the step graph (llama-tiny, backend-cpu)', () => {
  it('AdaLoRA: no gradient or parameter reaches the host, and 30 steps match the host-side allocator to 1e-6', async () => {
    let inGraph!: AdaLoraAllocator;
    let host!: HostAdaLoraAllocator;
    const a = await train((applied) => (inGraph = new AdaLoraAllocator(applied)), false);
    const b = await train((applied) => (host = new HostAdaLoraAllocator(applied)), true);
    const L = a.applied.layers.length;
    const triplets = L * CONFIG.init_r!;
    expectNoTensorTraffic(a.traffic, { 'adalora.keep': triplets, 'adalora.importance': L });
    // The reference really did move tensors: every AdaLoRA gradient per step, and parameters down and lora_E up.
    expect([...b.traffic.outputs.keys()].filter((k) => k.startsWith('grad:'))).toHaveLength(3 * L);
    expect(b.traffic.downloads.length).toBeGreaterThan(STEPS * L);
    expect(b.traffic.uploads.length).toBeGreaterThan(0);
    const worst = expectSameLosses(a.losses, b.losses);
    expect(inGraph.rankPattern()).toEqual(host.rankPattern());
    expect(inGraph.history.map((h) => [h.step, h.budget, h.totalRank, h.reallocated])).toEqual(host.history.map((h) => [h.step, h.budget, h.totalRank, h.reallocated]));
    expect(inGraph.totalRank).toBe(CONFIG.target_r! * L);
    // Importance is reported in float32 here and was summed in float64 on the host.
    for (const [path, v] of Object.entries(host.importance)) expect(Math.abs(inGraph.importance[path] - v), path).toBeLessThanOrEqual(1e-4 * Math.abs(v));
    for (const [n, t] of Object.entries(b.trained)) {
      const got = a.trained[n].data;
      for (let i = 0; i < t.data.length; i++) expect(Math.abs(Number(got[i]) - Number(t.data[i])), n).toBeLessThan(1e-5);
    }
    const perStep = triplets + L + 3;
    console.log(
      `AdaLoRA in-graph vs host-side, ${STEPS} steps: max |Δloss| ${worst.toExponential(2)}; final total rank ${inGraph.totalRank}. ` +
        `Host reads per step: ${perStep} floats (loss, grad_norm, step_ok, keep-mask ${triplets}, importance ${L}); writes: 4 scalar feeds; ` +
        `no getParameters/setParameters. Host-side reference per step: ${[...b.traffic.outputs].filter(([k]) => k.startsWith('grad:')).reduce((s, [, n]) => s + n, 0)} gradient floats read, ` +
        `${b.traffic.downloads.length / STEPS} parameter downloads and ${(b.traffic.uploads.length / STEPS).toFixed(1)} uploads on average.`,
    );
  }, 240_000);

  it('magnitude pruning: no parameter download, and 30 steps match the host-side pruner to 1e-6', async () => {
    const opts = { threshold: 0.02, start: 12, every: 5 };
    let inGraph!: MagnitudeRankPruner;
    let host!: HostMagnitudeRankPruner;
    const a = await train((applied) => (inGraph = new MagnitudeRankPruner(applied, opts)), false);
    const b = await train((applied) => (host = new HostMagnitudeRankPruner(applied, opts)), false);
    const total = a.applied.layers.reduce((s, l) => s + l.r, 0);
    expectNoTensorTraffic(a.traffic, { 'prune.keep': total });
    expect(b.traffic.downloads.length).toBeGreaterThan(0);
    const worst = expectSameLosses(a.losses, b.losses);
    expect(inGraph.rankPattern()).toEqual(host.rankPattern());
    expect(inGraph.history).toEqual(host.history);
    const kept = inGraph.history.at(-1)!.totalRank;
    expect(kept).toBeLessThan(total);
    console.log(`magnitude pruning in-graph vs host-side, ${STEPS} steps: max |Δloss| ${worst.toExponential(2)}; kept ${kept} of ${total}; host reads ${total + 3} floats per step`);
  }, 240_000);
});
