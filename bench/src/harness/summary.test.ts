import { describe, expect, it } from 'vitest';
import { planParticipants } from './participants.js';
import { median, spread } from './stats.js';
import { summarize, type ParticipantRun } from './summary.js';
import { targetList } from './targets.js';

const specs = planParticipants({ quick: true, tfjsCpu: false, policies: ['sqrt'] });
const spec = (impl: string, method = 'lora', policy = 'none') => specs.find((s) => s.implementation === impl && s.method === method && s.policy === policy)!;
const run = (s: ReturnType<typeof spec>, samples: number[], firstStepMs = 0, activation = 100): ParticipantRun => ({
  spec: s,
  samplesMs: samples,
  init: {
    loss: 8,
    gradNorm: 0.3,
    compileMs: 1000,
    firstStepMs,
    rssBeforeFirstStepBytes: 100 * 2 ** 20,
    planned: { activationPeakBytes: activation, plannedPeakBytes: 0, recomputedSegments: 0, extraFlops: 0 },
  },
  memory: { maxRssBytes: 300 * 2 ** 20, stepPeakRssBytes: 0 },
});

describe('stats', () => {
  it('median and spread', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spread([90, 100, 110])).toBeCloseTo(0.2, 12);
  });
});

describe('summarize and targets', () => {
  const runs = [
    run(spec('pytorch'), [1000, 1200, 1100]),
    run(spec('lowrank-cpu'), [800, 700, 900]),
    run(spec('lowrank-cpu', 'lora', 'sqrt'), [1000, 1000, 1000], 0, 30),
    run(spec('lowrank-cpu', 'qlora'), [1000, 1000, 1000]),
    run(spec('lowrank-cpu', 'dora'), [900, 900, 900]),
    run(spec('tfjs-wasm'), [], 10_000),
  ];
  const rows = summarize(runs, 1024, 2e11, 4e11);

  it('derives tokens/s, ratios and MFU from median step times', () => {
    const lora = rows.find((r) => r.name === spec('lowrank-cpu').name)!;
    expect(lora.stepMs).toBe(800);
    expect(lora.tokensPerSecond).toBeCloseTo(1280, 9);
    expect(lora.ratioToPytorch).toBeCloseTo(1100 / 800, 12);
    expect(lora.mfu).toBeCloseTo(2e11 / 0.8 / 4e11, 12);
    expect(lora.stepMemoryBytes).toBe(200 * 2 ** 20);
    const wasm = rows.find((r) => r.implementation === 'tfjs-wasm')!;
    expect(wasm.stepMs).toBe(10_000);
    expect(wasm.samples).toBe(1);
  });

  it('scores each target of the issue from the rows', () => {
    const t = targetList(rows, runs);
    const byWhat = (s: string) => t.find((x) => x.what.includes(s))!;
    expect(byWhat('vs PyTorch').met).toBe(true); // 1.375×
    expect(byWhat('tfjs-backend-wasm').met).toBe(true); // 12.5×
    expect(byWhat('utilisation').met).toBe(true); // 62.5%
    expect(byWhat('sqrt').met).toBe(true); // 30% planned, 1.25× time
    expect(byWhat('QLoRA').met).toBe(true); // 1.25×
    expect(byWhat('DoRA').met).toBe(true); // 1.125×
    const slowRows = summarize([runs[0], run(spec('lowrank-cpu'), [1000])], 1024, 2e11, 4e11);
    expect(targetList(slowRows, runs).find((x) => x.what.includes('vs PyTorch'))!.met).toBe(false);
  });
});
