import { broadcastIndex, NDArray } from '../reference/ndarray.js';
import { broadcastShapes, formatShape, numel } from '../shape.js';
import { matmul, sumToShape } from './emit.js';
import { defineOp, dtypeRule, shapeRule, type ValueInfo } from './registry.js';

type MatmulAttrs = { transA: boolean; transB: boolean };

interface MatmulDims {
  batch: number[];
  m: number;
  k: number;
  n: number;
}

function dims(a: ValueInfo, b: ValueInfo, t: MatmulAttrs): MatmulDims {
  if (a.shape.length < 2 || b.shape.length < 2) shapeRule('both operands need rank >= 2 (reshape vectors to [1, n])');
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [m, ka] = t.transA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
  const [kb, n] = t.transB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]];
  if (ka !== kb) {
    shapeRule(`inner dimensions differ: ${ka} vs ${kb} (transA=${t.transA}, transB=${t.transB})`);
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (!batch) shapeRule(`batch dims ${formatShape(a.shape.slice(0, -2))} and ${formatShape(b.shape.slice(0, -2))} do not broadcast`);
  return { batch: batch!, m, k: ka, n };
}

/** Batched matrix product with NumPy batch broadcasting and optional transposes of the last two axes. */
defineOp<MatmulAttrs>({
  name: 'matmul',
  kind: 'primitive',
  infer: ([a, b], t) => {
    if (a.dtype !== 'f32' || b.dtype !== 'f32') dtypeRule(`operands must be f32, got ${a.dtype} and ${b.dtype}`);
    const d = dims(a, b, t);
    return { shape: [...d.batch, d.m, d.n], dtype: 'f32' };
  },
  reference: ([a, b], t) => {
    const { batch, m, k, n } = dims(a, b, t);
    const nb = numel(batch);
    // Offsets of each batch's matrix in a and b after broadcasting.
    const aOff = broadcastIndex([...a.shape.slice(0, -2), 1], [...batch, 1]);
    const bOff = broadcastIndex([...b.shape.slice(0, -2), 1], [...batch, 1]);
    const out = new Float64Array(nb * m * n);
    for (let bi = 0; bi < nb; bi++) {
      const ao = aOff[bi] * m * k;
      const bo = bOff[bi] * k * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) {
            const av = t.transA ? a.data[ao + p * m + i] : a.data[ao + i * k + p];
            const bv = t.transB ? b.data[bo + j * k + p] : b.data[bo + p * n + j];
            s += av * bv;
          }
          out[(bi * m + i) * n + j] = s;
        }
      }
    }
    return new NDArray([...batch, m, n], 'f32', out);
  },
  vjp: ({ grad: g, inputs: [a, b], attrs: { transA, transB }, needs }) => [
    needs[0]
      ? sumToShape(transA ? matmul(b, g, { transA: transB, transB: true }) : matmul(g, b, { transB: !transB }), a.shape)
      : null,
    needs[1]
      ? sumToShape(transB ? matmul(g, a, { transA: true, transB: transA }) : matmul(a, g, { transA: !transA }), b.shape)
      : null,
  ],
  flops: ([a, b], _o, t) => {
    const d = dims(a, b, t);
    return 2 * numel(d.batch) * d.m * d.n * d.k;
  },
});

export { matmul } from './emit.js';
