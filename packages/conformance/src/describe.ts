import { evaluate, listOps, type Backend, type HostTensor, type NDArray } from '@lowrank/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpCase } from './case.js';
import { compositeCases } from './cases-composite.js';
import { primitiveCases } from './cases-primitive.js';
import { formatComparisons, normRelativeError } from './compare.js';
import { checkOpCase, toHostTensor } from './run-case.js';
import { FLOAT64_TOLERANCE, TRAINING_STEP_RTOL, toleranceFor, type Tolerance } from './tolerances.js';
import { buildLoraTrainingStep } from './training-step.js';

export interface ConformanceOptions {
  /** Per-op tolerance overrides (see FLOAT32_TOLERANCES for the defaults). */
  readonly tolerances?: Readonly<Record<string, Tolerance>>;
  /**
   * Ops this backend does not run yet: their cases are reported as skipped
   * instead of failing. Leave empty once the backend is complete.
   */
  readonly skipOps?: readonly string[];
  /** Extra cases, e.g. for ops that a backend's own package registers. */
  readonly extraCases?: readonly OpCase[];
  /** Seed of the input generator (default 1). */
  readonly seed?: number;
  /** Treat float results as float32 even if the backend says float64 (default: from capabilities.float64). */
  readonly float32?: boolean;
  /** Run the whole-training-step cases (default true). */
  readonly trainingStep?: boolean;
}

/** Every op case the suite knows, primitives first. */
export function allOpCases(extra: readonly OpCase[] = []): OpCase[] {
  return [...primitiveCases, ...compositeCases, ...extra];
}

/** Registered primitive and composite ops with no case (minus `skip`): the suite fails if any. */
export function opsWithoutCases(cases: readonly OpCase[], skip: readonly string[] = []): string[] {
  const covered = new Set(cases.map((c) => c.op));
  return [...listOps('primitive'), ...listOps('composite')].map((d) => d.name).filter((n) => !covered.has(n) && !skip.includes(n));
}

/**
 * Registers, with vitest's describe/it, the conformance suite for one backend:
 * every registered primitive and composite op, forward and VJP, against the
 * float64 reference evaluator, then whole LoRA training steps.
 *
 *   describeConformance('cpu', async () => createCpuBackend(), { tolerances: { erf: { rtol: 1e-3, atol: 1e-5 } } });
 */
export function describeConformance(name: string, makeBackend: () => Promise<Backend>, opts: ConformanceOptions = {}): void {
  const seed = opts.seed ?? 1;
  const skip = opts.skipOps ?? [];
  const cases = allOpCases(opts.extraCases);

  describe(`conformance: ${name}`, () => {
    let backend: Backend | undefined;
    const ready = (): Backend => {
      if (!backend) throw new Error(`backend '${name}' was not created; see the error in beforeAll`);
      return backend;
    };
    const float64 = () => !opts.float32 && ready().capabilities.float64;

    beforeAll(async () => {
      backend = await makeBackend();
    });
    afterAll(() => backend?.dispose());

    it('has a case for every primitive and composite op in the registry', () => {
      expect(opsWithoutCases(cases, skip)).toEqual([]);
    });

    describe('ops: forward and VJP against the float64 reference', () => {
      for (const c of cases) {
        const title = `${c.op}: ${c.label}`;
        if (skip.includes(c.op)) {
          it.skip(`${title} (skipped: '${c.op}' is in skipOps)`, () => {});
          continue;
        }
        it(title, async () => {
          const tol = toleranceFor(c.op, float64(), opts.tolerances);
          const comparisons = await checkOpCase(ready(), c, tol, seed);
          expect(formatComparisons(comparisons), `${name}: ${title}`).toBe('');
        });
      }
    });

    if (opts.trainingStep ?? true) describeTrainingStep(name, ready, float64);
  });
}

function describeTrainingStep(name: string, ready: () => Backend, float64: () => boolean): void {
  const rtol = () => (float64() ? FLOAT64_TOLERANCE.rtol : TRAINING_STEP_RTOL);
  const hostFeeds = (feeds: Readonly<Record<string, NDArray>>) => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toHostTensor(v)]));

  describe('whole LoRA training step (transformer block, frozen base weights)', () => {
    it('loss and every trainable gradient agree with the reference', async () => {
      const m = buildLoraTrainingStep();
      const want = evaluate(m.graph, { ...m.feeds, ...m.params }, m.outputs);
      const exe = await ready().compile(m.graph, { outputs: m.outputs });
      try {
        await exe.setParameters(hostFeeds(m.params));
        const got = await exe.run(hostFeeds(m.feeds));
        expect(m.trainable.length).toBeGreaterThanOrEqual(8);
        for (const o of m.outputs) {
          // A zero reference gradient would make the comparison vacuous.
          expect(Math.max(...want.get(o)!.data.map(Math.abs)), `reference ${o} is all zeros`).toBeGreaterThan(1e-6);
          expect(got[o], `${name}: output ${o} missing`).toBeDefined();
          expect(normRelativeError(got[o], want.get(o)!), `${name}: ${o}`).toBeLessThan(rtol());
        }
      } finally {
        exe.dispose();
      }
    });

    it('two in-graph SGD steps keep parameters resident and match the reference', async () => {
      const lr = 0.1;
      const m = buildLoraTrainingStep({ sgdRate: lr });
      const updates = Object.fromEntries(m.trainable.map((p) => [p, `next.${p}`]));
      const exe = await ready().compile(m.graph, { outputs: ['loss'], updates });
      try {
        await exe.setParameters(hostFeeds(m.params));
        let params: Record<string, NDArray> = { ...m.params };
        for (let step = 0; step < 2; step++) {
          const want = evaluate(m.graph, { ...m.feeds, ...params }, ['loss', ...Object.values(updates)]);
          const got = await exe.run(hostFeeds(m.feeds));
          expect(normRelativeError(got.loss, want.get('loss')!), `${name}: loss at step ${step}`).toBeLessThan(rtol());
          params = { ...params, ...Object.fromEntries(m.trainable.map((p) => [p, want.get(`next.${p}`)!])) };
        }
        const resident: Record<string, HostTensor> = await exe.getParameters(Object.keys(m.params));
        for (const [p, v] of Object.entries(params)) {
          expect(normRelativeError(resident[p], v), `${name}: parameter ${p} after two steps`).toBeLessThan(rtol());
        }
        // The trainable parameters moved; the frozen ones did not.
        const moved = (p: string) => normRelativeError(resident[p], m.params[p]) > 1e-6;
        expect(m.trainable.every(moved)).toBe(true);
        expect(Object.keys(m.params).filter((p) => !m.trainable.includes(p) && moved(p))).toEqual([]);
      } finally {
        exe.dispose();
      }
    });
  });
}
