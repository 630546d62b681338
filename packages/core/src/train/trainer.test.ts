import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../backend/backend.js';
import { createReferenceBackend } from '../backend/reference-backend.js';
import { grad } from '../autodiff/grad.js';
import { evaluate } from '../reference/evaluate.js';
import { NDArray } from '../reference/ndarray.js';
import { TrainConfigError, TrainStateError } from './errors.js';
import { ArrayStream, batchOf, buildLoraLm, initialValues, makeRows } from './fixture.test-support.js';
import { Trainer, type TrainerOptions } from './trainer.js';
import type { StepMetrics, TrainBatch, TrainMetrics } from './types.js';

const A = 'proj.lora_A.weight';
const B = 'proj.lora_B.weight';
const SEQ = 4;

/** Loss and adapter gradients from an independent graph on the float64 evaluator. */
function referenceGradients(batch: TrainBatch, params: Record<string, HostTensor>, rows: number): { loss: number; grads: Record<string, Float64Array> } {
  const { graph, loss } = buildLoraLm(rows, SEQ)({ training: true });
  const [ga, gb] = grad(loss, [graph.paramTensor(A), graph.paramTensor(B)]);
  graph.output('loss', loss);
  graph.output('ga', ga);
  graph.output('gb', gb);
  const feeds: Record<string, NDArray> = {};
  for (const [n, t] of Object.entries({ ...params, ...batch.feeds })) feeds[n] = NDArray.fromHost(t.shape, t.dtype, t.data);
  const r = evaluate(graph, feeds);
  return { loss: r.get('loss')!.data[0], grads: { [A]: r.get('ga')!.data, [B]: r.get('gb')!.data } };
}

function options(over: Partial<TrainerOptions> & Pick<TrainerOptions, 'data'>): TrainerOptions {
  return {
    backend: createReferenceBackend(),
    build: buildLoraLm(2, SEQ),
    parameters: initialValues(),
    optimizer: { kind: 'sgd', lr: 1 },
    steps: 10,
    ...over,
  };
}

const values = (t: HostTensor) => Array.from(t.data as ArrayLike<number>);

describe('Trainer on the float64 reference backend', () => {
  it('one SGD step with lr 1 changes A and B by exactly minus their gradients', async () => {
    const rows = makeRows(3, SEQ);
    const start = initialValues();
    const trainer = await Trainer.create(options({ build: buildLoraLm(3, SEQ), data: new ArrayStream(rows, 3) }));
    const m = await trainer.trainStep();
    const after = await trainer.trainableValues();
    const ref = referenceGradients(batchOf(rows), start, 3);
    expect(m.loss).toBe(ref.loss);
    for (const name of [A, B]) {
      const g = ref.grads[name];
      expect(g.some((v) => Math.abs(v) > 1e-3)).toBe(true);
      const expected = values(start[name]).map((p, i) => p - g[i]);
      expect(values(after[name])).toEqual(expected);
    }
    expect(trainer.step).toBe(1);
  });

  it('k micro-batches of size m give the gradients of one batch of k·m (token-weighted)', async () => {
    const rows = makeRows(8, SEQ);
    const whole = await Trainer.create(options({ build: buildLoraLm(4, SEQ), data: new ArrayStream(rows, 4), exposeGradients: true }));
    const micro = await Trainer.create(
      options({ build: buildLoraLm(2, SEQ), data: new ArrayStream(rows, 2), accumulationSteps: 2, exposeGradients: true }),
    );
    // micro-batches [rows 0,1] and [rows 2,3] hold different token counts: plain averaging would be wrong
    expect(batchOf(rows.slice(0, 2)).tokens).not.toBe(batchOf(rows.slice(2, 4)).tokens);
    for (let step = 0; step < 2; step++) {
      const mw = await whole.trainStep();
      const mm = await micro.trainStep();
      expect(mm.loss).toBeCloseTo(mw.loss, 12);
      expect(mm.gradNorm).toBeCloseTo(mw.gradNorm, 12);
      expect(mm.tokens).toBe(mw.tokens);
    }
    const [pw, pm] = [await whole.trainableValues(), await micro.trainableValues()];
    for (const name of [A, B]) {
      values(pm[name]).forEach((v, i) => expect(Math.abs(v - values(pw[name])[i])).toBeLessThan(1e-12));
    }
  });

  it('AdamW with weight decay, warmup and clipping matches an independent host implementation', async () => {
    const rows = makeRows(6, SEQ);
    const cfg = { kind: 'adamw' as const, lr: 0.05, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 };
    const maxNorm = 0.2; // between the step norms (0.13 to 0.26), so some steps clip and some do not
    const trainer = await Trainer.create(
      options({ data: new ArrayStream(rows, 2), optimizer: cfg, maxGradNorm: maxNorm, schedule: { kind: 'linear', warmupSteps: 1 }, steps: 3 }),
    );
    const host = initialValues();
    const m: Record<string, number[]> = { [A]: [], [B]: [] };
    const v: Record<string, number[]> = { [A]: [], [B]: [] };
    let clipped = false;
    // Graph constants are f32 values (the evaluator rounds them), so the host mirrors that rounding.
    const f = Math.fround;
    for (let t = 1; t <= 3; t++) {
      const lr = [0.025, 0.05, 0.025][t - 1]; // warmup (1/2), full, then linear decay halfway
      const ref = referenceGradients(batchOf(rows.slice(2 * (t - 1), 2 * t)), host, 2);
      const norm = Math.sqrt([A, B].reduce((s, n) => s + ref.grads[n].reduce((q, x) => q + x * x, 0), 0));
      const coef = Math.min(1, f(maxNorm) / (norm + f(1e-6)));
      clipped ||= coef < 1;
      const metrics = await trainer.trainStep();
      expect(metrics.lr).toBeCloseTo(lr, 15);
      expect(metrics.gradNorm).toBeCloseTo(norm, 12);
      for (const n of [A, B]) {
        const p = values(host[n]);
        const next = p.map((pi, i) => {
          const g = ref.grads[n][i] * coef;
          m[n][i] = f(0.8) * (m[n][i] ?? 0) + f(0.2) * g;
          v[n][i] = f(0.95) * (v[n][i] ?? 0) + f(0.05) * g * g;
          const mh = m[n][i] / (1 - 0.8 ** t);
          const vh = v[n][i] / (1 - 0.95 ** t);
          return pi - pi * lr * f(0.1) - (lr * mh) / (Math.sqrt(vh) + f(1e-6));
        });
        host[n] = { shape: host[n].shape, dtype: 'f32', data: Float64Array.from(next) };
      }
    }
    expect(clipped).toBe(true);
    const got = await trainer.trainableValues();
    for (const n of [A, B]) values(got[n]).forEach((x, i) => expect(x).toBeCloseTo(values(host[n])[i], 12));
  });

  it('restoring a saved state continues with the identical loss sequence (dropout, AdamW, accumulation)', async () => {
    const rows = makeRows(10, SEQ);
    const make = () =>
      Trainer.create(
        options({
          build: buildLoraLm(2, SEQ, 0.2),
          data: new ArrayStream(rows, 2),
          optimizer: { kind: 'adamw', lr: 0.01 },
          accumulationSteps: 2,
          schedule: { kind: 'cosine', warmupSteps: 2 },
          seed: 7,
          steps: 6,
        }),
      );
    const straight = await make();
    const losses: number[] = [];
    straight.subscribe((e) => e.type === 'step' && losses.push(e.loss));
    await straight.run();

    const first = await make();
    const resumedLosses: number[] = [];
    first.subscribe((e) => e.type === 'step' && resumedLosses.push(e.loss));
    await first.run({ until: 3 });
    const saved = await first.state();
    first.dispose();
    const second = await make();
    second.subscribe((e) => e.type === 'step' && resumedLosses.push(e.loss));
    await second.restore(saved);
    expect(second.step).toBe(3);
    await second.run();
    expect(resumedLosses).toEqual(losses);
    expect(new Set(losses).size).toBe(6);
  });

  it('evaluates a token-weighted mean loss and streams step and eval metrics', async () => {
    const rows = makeRows(6, SEQ);
    const evalRows = makeRows(4, SEQ, 11);
    const events: TrainMetrics[] = [];
    const hookSteps: number[] = [];
    // Count compilations: the changing learning rate is fed, so the run compiles one step graph and one eval graph.
    const backend = createReferenceBackend();
    let compiles = 0;
    const counting = { ...backend, compile: (...a: Parameters<typeof backend.compile>) => (compiles++, backend.compile(...a)) };
    const trainer = await Trainer.create(
      options({
        backend: counting,
        schedule: { kind: 'cosine', warmupSteps: 1 },
        data: new ArrayStream(rows, 2),
        optimizer: { kind: 'sgd', lr: 0.5, momentum: 0.9 },
        steps: 4,
        eval: { every: 2, batches: () => [batchOf(evalRows.slice(0, 2)), batchOf(evalRows.slice(2, 4))] },
        hooks: [
          { name: 'probe', afterStep: (c) => void hookSteps.push(c.step), metrics: () => ({ activeRanks: { proj: 2, up: 4 }, budget: 9 }) },
          { name: 'scores', metrics: () => ({ activeRanks: { up: 1, down: 2 }, layerImportance: { proj: 0.75, up: 0.25 }, kept: [1, 0] }) },
        ],
      }),
    );
    trainer.subscribe((e) => events.push(e));
    const before = await trainer.evaluate();
    const oneBatch = referenceGradients(batchOf(evalRows), initialValues(), 4).loss;
    expect(before.loss).toBeCloseTo(oneBatch, 12);
    expect(before.perplexity).toBeCloseTo(Math.exp(oneBatch), 10);
    await trainer.run();
    expect(events.map((e) => `${e.type}@${e.step}`)).toEqual(['eval@0', 'step@1', 'step@2', 'eval@2', 'step@3', 'step@4', 'eval@4']);
    expect(hookSteps).toEqual([0, 1, 2, 3]);
    const step = events[1] as StepMetrics;
    // Per-name records under one key merge entry by entry (the later hook wins); other values pass through.
    expect(step.metrics).toEqual({ activeRanks: { proj: 2, up: 1, down: 2 }, budget: 9, layerImportance: { proj: 0.75, up: 0.25 }, kept: [1, 0] });
    expect(step.tokens).toBe(batchOf(rows.slice(0, 2)).tokens);
    expect(step.tokensPerSecond).toBeGreaterThan(0);
    expect(step.measuredPeakBytes).toBeGreaterThan(0);
    const last = events.at(-1)!;
    expect(last.loss).toBeLessThan(before.loss);
    expect(new Set(events.filter((e) => e.type === 'step').map((e) => (e as StepMetrics).lr)).size).toBe(4);
    expect(compiles).toBe(2);
  });

  it('rejects bad options and incomplete parameters with typed errors', async () => {
    const data = new ArrayStream(makeRows(2, SEQ), 2);
    await expect(Trainer.create(options({ data, accumulationSteps: 0 }))).rejects.toThrow(TrainConfigError);
    await expect(Trainer.create(options({ data, optimizer: { kind: 'adam' as 'sgd', lr: 1 } }))).rejects.toThrow(/Allowed: adamw, sgd/);
    const partial = initialValues();
    delete partial['proj.weight'];
    await expect(Trainer.create(options({ data, parameters: partial }))).rejects.toThrow(TrainStateError);
    await expect(Trainer.create(options({ data, parameters: partial }))).rejects.toThrow(/proj\.weight/);
  });

  it('feeds hook inputs per micro-batch and saves and restores hook state', async () => {
    const rows = makeRows(6, SEQ);
    const makeHook = () => {
      let draws = 0;
      const seen: number[] = [];
      return {
        seen,
        hook: {
          name: 'scale-draw',
          feeds: (c: { microStep: number }) => {
            draws++;
            seen.push(c.microStep);
            return { 'lora.scale': { shape: [], dtype: 'f32' as const, data: Float64Array.of(1 + (draws % 3)) } };
          },
          evalFeeds: () => ({ 'lora.scale': { shape: [], dtype: 'f32' as const, data: Float64Array.of(3) } }),
          state: () => draws,
          restore: (s: unknown) => void (draws = Number(s)),
        },
      };
    };
    const make = (h: ReturnType<typeof makeHook>) =>
      Trainer.create(options({ build: buildLoraLm(2, SEQ, 0, true), data: new ArrayStream(rows, 2), accumulationSteps: 2, steps: 4, hooks: [h.hook] }));
    const a = makeHook();
    const straight = await make(a);
    const losses: number[] = [];
    straight.subscribe((e) => e.type === 'step' && losses.push(e.loss));
    await straight.run();
    expect(a.seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    const b = makeHook();
    const first = await make(b);
    const resumed: number[] = [];
    first.subscribe((e) => e.type === 'step' && resumed.push(e.loss));
    await first.run({ until: 2 });
    const saved = await first.state();
    expect(saved.hooks).toEqual({ 'scale-draw': 4 });
    const c = makeHook();
    const second = await make(c);
    second.subscribe((e) => e.type === 'step' && resumed.push(e.loss));
    await second.restore(saved);
    await second.run();
    expect(c.seen).toEqual([4, 5, 6, 7]);
    expect(resumed).toEqual(losses);
    expect((await second.evaluate([batchOf(rows.slice(0, 2))])).loss).toBeGreaterThan(0);
  });
});
