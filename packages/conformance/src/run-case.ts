import { evaluate, Graph, NDArray, numel, rng, vjp, type Backend, type HostTensor } from '@lowrank/core';
import type { OpCase } from './case.js';
import { compareOutput, type Comparison } from './compare.js';
import { drawValues, seededRandom } from './random.js';
import type { Tolerance } from './tolerances.js';

/** A case turned into a graph with its drawn inputs. */
export interface BuiltCase {
  readonly graph: Graph;
  readonly feeds: Readonly<Record<string, NDArray>>;
  /** Named outputs: 'out', and 'grad.x<i>' for each f32 input when the VJP is checked. */
  readonly outputs: readonly string[];
  readonly checksVjp: boolean;
}

/**
 * Builds `out = op(x0, x1, ...)` and, when out is f32 and some input is f32,
 * the VJP of out with a drawn cotangent input for every f32 input.
 * Inputs are drawn from a generator seeded by `seed`, the op and the label,
 * so a case draws the same numbers whatever other cases run.
 */
export function buildCase(c: OpCase, seed: number): BuiltCase {
  const rand = seededRandom(rng.mix32(seed ^ rng.stringKey(`${c.op}/${c.label}`)));
  const g = new Graph();
  const xs = c.inputs.map((s, i) => g.input(`x${i}`, s.shape, s.dtype));
  const out = g.scope('case', () => c.build(xs));
  if (!g.nodeIds().some((id) => g.node(id).op === c.op)) {
    throw new Error(`case '${c.label}' claims to test ${c.op} but its graph has no ${c.op} node`);
  }
  g.output('out', out);
  const feeds: Record<string, NDArray> = {};
  c.inputs.forEach((s, i) => (feeds[`x${i}`] = NDArray.from(s.shape, drawValues(s.values, numel(s.shape), s.dtype, rand), s.dtype)));
  const outputs = ['out'];
  const wrt = xs.filter((x) => x.dtype === 'f32');
  const checksVjp = out.dtype === 'f32' && wrt.length > 0;
  if (checksVjp) {
    const ct = g.input('cotangent', out.shape, 'f32');
    feeds.cotangent = NDArray.from(out.shape, drawValues({ kind: 'uniform', lo: -1, hi: 1 }, numel(out.shape), 'f32', rand));
    const grads = vjp([out], [ct], wrt);
    wrt.forEach((x, k) => {
      const name = `grad.${String(g.node(x.id).attrs.name)}`;
      g.output(name, grads[k]);
      outputs.push(name);
    });
  }
  return { graph: g, feeds, outputs, checksVjp };
}

export function toHostTensor(a: NDArray): HostTensor {
  return { shape: a.shape, dtype: a.dtype, data: a.toHost() };
}

/** Runs a built graph on `backend` and compares every output with the float64 reference. */
export async function runOnBackend(backend: Backend, built: BuiltCase, tol: Tolerance): Promise<Comparison[]> {
  const want = evaluate(built.graph, built.feeds, built.outputs);
  const exe = await backend.compile(built.graph, { outputs: built.outputs });
  try {
    const feeds: Record<string, HostTensor> = {};
    for (const [n, v] of Object.entries(built.feeds)) feeds[n] = toHostTensor(v);
    const got = await exe.run(feeds);
    return built.outputs.map((o) => compareOutput(o, got[o], want.get(o)!, tol));
  } finally {
    exe.dispose();
  }
}

/** Builds one op case, runs it on the backend and compares forward value and VJPs with the reference. */
export async function checkOpCase(backend: Backend, c: OpCase, tol: Tolerance, seed: number): Promise<Comparison[]> {
  return runOnBackend(backend, buildCase(c, seed), tol);
}
