import { describe, expect, it } from 'vitest';
import { Graph, grad, evaluate, NDArray, ops } from '../index.js';

describe('grad smoke', () => {
  it('matches finite differences on a small expression', () => {
    const g = new Graph();
    const x = g.param('x', [2, 3], { trainable: true });
    const w = g.param('w', [4, 3]);
    const y = ops.layerNorm(ops.matmul(x, w, { transB: true }), g.input('ga', [4]), g.input('be', [4]));
    const loss = ops.sum(ops.mul(ops.tanh(y), ops.gelu(y, 'tanh')));
    const [gx] = grad(loss, [x]);
    g.output('loss', loss);
    g.output('gx', gx);
    const r = (n: number, s: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + s));
    const feeds: Record<string, NDArray> = {
      x: NDArray.from([2, 3], r(6, 1)),
      w: NDArray.from([4, 3], r(12, 2)),
      ga: NDArray.from([4], r(4, 3)),
      be: NDArray.from([4], r(4, 4)),
    };
    const res = evaluate(g, feeds);
    const an = res.get('gx')!.data;
    const h = 1e-6;
    for (let i = 0; i < 6; i++) {
      const p = feeds.x.data.slice();
      p[i] += h;
      const lp = evaluate(g, { ...feeds, x: NDArray.from([2, 3], p) }, ['loss']).get('loss')!.data[0];
      p[i] -= 2 * h;
      const lm = evaluate(g, { ...feeds, x: NDArray.from([2, 3], p) }, ['loss']).get('loss')!.data[0];
      expect(Math.abs((lp - lm) / (2 * h) - an[i])).toBeLessThan(1e-7);
    }
    // frozen w: no node consumes w on the backward side except forward matmul
  });
});
