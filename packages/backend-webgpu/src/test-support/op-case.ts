import { Graph, NDArray, evaluate, grad, ops, type DType, type HostTensor, type Tensor } from '@lowrank/core';
import type { WebGpuBackend } from '../backend.js';
import { expectClose, seededValues } from './compare.js';

export interface InputSpec {
  readonly shape: readonly number[];
  readonly dtype?: DType;
  /** Explicit values, or a uniform range [lo, hi) (integers are floored). */
  readonly values?: readonly number[];
  readonly range?: readonly [number, number];
}

export interface OpCase {
  readonly label: string;
  readonly inputs: readonly InputSpec[];
  readonly build: (xs: Tensor[], graph: Graph) => Tensor;
  /** Compare the VJP of every f32 input too (default: when the output is f32). */
  readonly vjp?: boolean;
  readonly rtol?: number;
  readonly atol?: number;
  /** Require bit-identical results. */
  readonly exact?: boolean;
}

const size = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

function values(spec: InputSpec, seed: number): number[] {
  if (spec.values) return [...spec.values];
  const dtype = spec.dtype ?? 'f32';
  const [lo, hi] = spec.range ?? (dtype === 'f32' ? [-2, 2] : dtype === 'bool' ? [0, 2] : [0, 8]);
  const raw = seededValues(seed, size(spec.shape), lo, hi);
  return dtype === 'f32' ? raw.map(Math.fround) : raw.map(Math.floor);
}

function host(shape: readonly number[], dtype: DType, data: readonly number[]): HostTensor {
  const arr = dtype === 'f32' ? Float32Array.from(data) : dtype === 'i32' ? Int32Array.from(data) : Uint8Array.from(data);
  return { shape: [...shape], dtype, data: arr };
}

/** Runs one case on the backend and on the float64 reference and compares forward and VJP values. */
export async function checkOpCase(backend: WebGpuBackend, c: OpCase, seed = 7): Promise<void> {
  const g = new Graph();
  const xs = c.inputs.map((s, i) => g.input(`x${i}`, s.shape, s.dtype ?? 'f32'));
  const out = c.build(xs, g);
  g.output('out', out);
  const feeds: Record<string, HostTensor> = {};
  const refFeeds: Record<string, NDArray> = {};
  c.inputs.forEach((s, i) => {
    const v = values(s, seed + 101 * i);
    feeds[`x${i}`] = host(s.shape, s.dtype ?? 'f32', v);
    refFeeds[`x${i}`] = NDArray.fromHost(s.shape, s.dtype ?? 'f32', feeds[`x${i}`].data);
  });
  // Random ops read the graph's rng.seed / rng.step inputs: large values check the u32 arithmetic.
  const rngValues: Record<string, number> = { 'rng.seed': -123456789, 'rng.step': 2_000_000_001 };
  for (const [name, v] of Object.entries(rngValues)) {
    if (!g.inputs.has(name)) continue;
    feeds[name] = host([], 'i32', [v]);
    refFeeds[name] = NDArray.scalar(v, 'i32');
  }
  const floatInputs = xs.flatMap((x, i) => (x.dtype === 'f32' ? [i] : []));
  const withVjp = (c.vjp ?? out.dtype === 'f32') && floatInputs.length > 0;
  if (withVjp) {
    const ct = g.input('cotangent', out.shape, 'f32');
    const grads = grad(ops.sum(ops.mul(out, ct)), floatInputs.map((i) => xs[i]));
    grads.forEach((t, k) => g.output(`grad${floatInputs[k]}`, t));
    const v = values({ shape: out.shape }, seed + 999);
    feeds.cotangent = host(out.shape, 'f32', v);
    refFeeds.cotangent = NDArray.fromHost(out.shape, 'f32', feeds.cotangent.data);
  }
  const exe = await backend.compile(g);
  try {
    const got = await exe.run(feeds);
    const want = evaluate(g, refFeeds);
    for (const [name, expected] of want) {
      const rounded = new NDArray(expected.shape, expected.dtype, Float64Array.from(expected.toHost()));
      if (c.exact) expectClose(got[name], rounded, `${c.label} ${name}`, 0, 0);
      else expectClose(got[name], expected.dtype === 'f32' ? expected : rounded, `${c.label} ${name}`, c.rtol ?? 1e-4, c.atol ?? 1e-5);
      if (got[name].dtype !== expected.dtype) throw new Error(`${c.label} ${name}: dtype ${got[name].dtype}, expected ${expected.dtype}`);
    }
  } finally {
    exe.dispose();
  }
}
