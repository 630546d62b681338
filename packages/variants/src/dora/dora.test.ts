import { evaluate, gradTrainable, Graph, Linear, NDArray, ops, type HostTensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { applyAdapters } from '../apply.js';
import { initialAdapterState } from '../lora/init.js';
import { dot, doraReference, feedsOf, gradCheck, randomArray, TinyNet } from '../test-support.js';

const IN = 6;
const OUT = 4;
const ROWS = 6;
const R = 2;
const S = 1.5;

function setup(dropout = 0) {
  const net = new TinyNet({ proj: new Linear(IN, OUT) });
  const base = new Map<string, HostTensor>([
    ['proj.weight', { shape: [OUT, IN], dtype: 'f32', data: Float32Array.from(randomArray([OUT, IN], 1).data) }],
    ['proj.bias', { shape: [OUT], dtype: 'f32', data: Float32Array.from(randomArray([OUT], 2).data) }],
  ]);
  applyAdapters(net, { r: R, lora_alpha: R * S, target_modules: ['proj'], use_dora: true, init_lora_weights: false, lora_dropout: dropout });
  const adapter = initialAdapterState(net, base, { seed: 3 });
  // Move m away from its initial ‖W + sBA‖ so that every term of the gradient is non-trivial.
  const m = adapter.get('proj.lora_magnitude_vector')!;
  const feeds: Record<string, NDArray> = { ...feedsOf(base), ...feedsOf(adapter), x: randomArray([ROWS, IN], 4) };
  feeds['proj.lora_magnitude_vector'] = NDArray.from([OUT], Array.from(m.data, (v, i) => v * (1 + 0.1 * i)));
  return { net, base, adapter, feeds };
}

/** The test's DoRA in float64, the norm from `normFeeds`. */
function doraHost(f: Record<string, NDArray>, normFeeds: Record<string, NDArray>): Float64Array {
  return doraReference(
    { x: f.x.data, w: f['proj.weight'].data, bias: f['proj.bias'].data, a: f['proj.lora_A.weight'].data, b: f['proj.lora_B.weight'].data, m: f['proj.lora_magnitude_vector'].data, rows: ROWS, inF: IN, outF: OUT, r: R, scaling: S },
    { a: normFeeds['proj.lora_A.weight'].data, b: normFeeds['proj.lora_B.weight'].data },
  );
}

const lossOf = (y: Float64Array, u: NDArray) => dot(y, u.data);

describe('DoRA layer', () => {
  it('magnitude starts at the row norm of W + s·BA', () => {
    const { adapter, feeds } = setup();
    const m = adapter.get('proj.lora_magnitude_vector')!.data;
    const y = doraHost({ ...feeds, 'proj.lora_magnitude_vector': NDArray.from([OUT], m) }, feeds);
    // With m = ‖W + sBA‖ the layer is exactly x(W + sBA)ᵀ + b.
    let expected = 0;
    for (let i = 0; i < IN; i++) expected += feeds.x.data[i] * (feeds['proj.weight'].data[i] + S * (feeds['proj.lora_B.weight'].data[0] * feeds['proj.lora_A.weight'].data[i] + feeds['proj.lora_B.weight'].data[1] * feeds['proj.lora_A.weight'].data[IN + i]));
    expect(y[0]).toBeCloseTo(expected + feeds['proj.bias'].data[0], 6);
  });

  it('forward equals m/‖W + sBA‖·(W + sBA)x + b', () => {
    const { net, feeds } = setup();
    const g = new Graph();
    g.output('y', net.call('proj', g.input('x', [ROWS, IN])));
    const y = evaluate(g, feeds).get('y')!.data;
    const expected = doraHost(feeds, feeds);
    for (let i = 0; i < y.length; i++) expect(y[i]).toBeCloseTo(expected[i], 12);
  });

  it('gradient matches the detached-norm formula and differs from the undetached one', () => {
    const { net, feeds } = setup();
    const wrt = ['x', 'proj.lora_A.weight', 'proj.lora_B.weight', 'proj.lora_magnitude_vector'];
    const build = (g: Graph) => net.call('proj', g.input('x', [ROWS, IN]));
    const detached = gradCheck(build, feeds, wrt, { lossFn: (f) => lossOf(doraHost(f, feeds), f.__cotangent) });
    expect(detached.maxRelError).toBeLessThan(1e-7);
    // The graph's own finite differences (norm recomputed) give the undetached gradient: A and B differ.
    const undetached = gradCheck(build, feeds, ['proj.lora_A.weight', 'proj.lora_B.weight'], { lossFn: (f) => lossOf(doraHost(f, f), f.__cotangent) });
    expect(undetached.maxRelError).toBeGreaterThan(1e-2);
    const a = detached.analytic.get('proj.lora_B.weight')!;
    const undetachedNumeric = undetached.numeric.get('proj.lora_B.weight')!;
    expect(Math.max(...a.map((v, i) => Math.abs(v - undetachedNumeric[i])))).toBeGreaterThan(1e-3);
  });

  it('trainable parameters are A, B and the magnitude; W and bias get no gradient', () => {
    const { net } = setup();
    const g = new Graph();
    const loss = ops.sum(net.call('proj', g.input('x', [ROWS, IN])));
    expect([...gradTrainable(loss).keys()].sort()).toEqual(['proj.lora_A.weight', 'proj.lora_B.weight', 'proj.lora_magnitude_vector']);
  });

  it('with dropout, recomputes the base on the dropped x and stays differentiable', () => {
    const { net, feeds } = setup(0.25);
    const all = { ...feeds, 'rng.seed': NDArray.scalar(7, 'i32'), 'rng.step': NDArray.scalar(1, 'i32') };
    // x and m do not enter the (detached) norm, so the graph's own finite differences check them.
    const r = gradCheck((g) => net.call('proj', g.input('x', [ROWS, IN])), all, ['x', 'proj.lora_magnitude_vector']);
    expect(r.maxRelError).toBeLessThan(1e-7);
  });
});
