// The suite must pass an honest float32 backend and fail deliberately wrong ones.
import { evaluate, getOp, NDArray, type Attrs } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { allOpCases, describeConformance } from './describe.js';
import { formatComparisons, normRelativeError } from './compare.js';
import { createFloat32SimulatedBackend, type Kernel } from './float32-backend.js';
import { checkOpCase, toHostTensor } from './run-case.js';
import { toleranceFor } from './tolerances.js';
import { buildLoraTrainingStep } from './training-step.js';

// Rounding to float32 after every primitive stays inside the float32 table.
describeConformance('float32-simulated', async () => createFloat32SimulatedBackend());

const elementwise =
  (f: (v: number) => number): Kernel =>
  ([x]) =>
    new NDArray(x.shape, x.dtype, x.data.map(f));

/** Failure reports of every case of `op` on a backend with `kernels` swapped in. */
async function failuresFor(op: string, kernels: Record<string, Kernel>): Promise<string[]> {
  const backend = createFloat32SimulatedBackend(kernels, 'mutant');
  const reports: string[] = [];
  for (const c of allOpCases().filter((k) => k.op === op)) {
    reports.push(formatComparisons(await checkOpCase(backend, c, toleranceFor(op, false), 1)));
  }
  return reports;
}

describe('the suite catches wrong backends', () => {
  it('a tanh kernel off by 0.1% fails every tanh case', async () => {
    const reports = await failuresFor('tanh', { tanh: elementwise((v) => Math.tanh(v) * 1.001) });
    expect(reports.length).toBeGreaterThan(0);
    for (const r of reports) expect(r).toMatch(/^out: element/);
  });

  it('an erf accurate to 1.5e-7 (Abramowitz-Stegun 7.1.26) passes; one accurate to 1e-3 fails', async () => {
    const as7126 = (x: number) => {
      const t = 1 / (1 + 0.3275911 * Math.abs(x));
      const y = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
      return x < 0 ? -y : y;
    };
    expect(await failuresFor('erf', { erf: elementwise(as7126) })).toEqual(['', '', '']);
    const crude = (await failuresFor('erf', { erf: elementwise((x) => Math.tanh(1.2 * x)) })).filter((r) => r !== '');
    expect(crude.length).toBe(3);
  });

  it('a pad kernel padding the wrong side passes slice forward but fails its VJP', async () => {
    // All padding after the values: same shape, values shifted.
    const padWrongSide: Kernel = ([x], a: Attrs) => {
      const before = a.before as readonly number[];
      const after = (a.after as readonly number[]).map((v, i) => v + before[i]);
      return getOp('pad').reference!([x], { ...a, before: before.map(() => 0), after });
    };
    const reports = await failuresFor('slice', { pad: padWrongSide });
    expect(reports.length).toBeGreaterThan(0);
    for (const r of reports) {
      expect(r).not.toMatch(/^out:/m);
      expect(r).toMatch(/^grad\.x0:/m);
    }
  });

  it('an rsqrt off by 1e-3 fails the whole training step at 1e-4', async () => {
    const m = buildLoraTrainingStep();
    const want = evaluate(m.graph, { ...m.feeds, ...m.params }, m.outputs);
    const backend = createFloat32SimulatedBackend({ rsqrt: elementwise((v) => 1.001 / Math.sqrt(v)) });
    const exe = await backend.compile(m.graph, { outputs: m.outputs });
    await exe.setParameters(Object.fromEntries(Object.entries(m.params).map(([k, v]) => [k, toHostTensor(v)])));
    const got = await exe.run(Object.fromEntries(Object.entries(m.feeds).map(([k, v]) => [k, toHostTensor(v)])));
    const worst = Math.max(...m.outputs.map((o) => normRelativeError(got[o], want.get(o)!)));
    expect(worst).toBeGreaterThan(1e-4);
  });
});
