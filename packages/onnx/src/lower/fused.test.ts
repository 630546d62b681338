import { afterAll, describe, expect, it } from 'vitest';
import { listOps, ops, type Tensor } from '@lowrank/core';
import { createOrtBackend } from '../ort-backend.js';
import { encodeModel } from '../model/encode-model.js';
import { inspectModel } from '../model/inspect-model.js';
import { lowerGraph } from './lower-graph.js';
import { fusedOps } from './lowering-registry.js';
import { CaseBuilder, checkAgainstReference, type Tolerance } from '../../test/reference-check.js';

/*
 * Composites: the fused ONNX kernel and the lowered expansion are each checked
 * against the float64 reference (forward and VJP), and the fused model must
 * really contain the fused op.
 */
const fusedBackend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1, fuse: true });
const expandedBackend = createOrtBackend({ name: 'cpu', executionProviders: ['cpu'], threads: 1, fuse: false });
afterAll(() => {
  fusedBackend.dispose();
  expandedBackend.dispose();
});

const TOL: Tolerance = { rtol: 2e-5, atol: 2e-5 };

interface CompositeCase {
  readonly build: (c: CaseBuilder) => { out: Tensor; wrt: Tensor[] };
  readonly fusedOpType?: string;
}

const cases: Record<string, CompositeCase> = {
  layerNorm: {
    fusedOpType: 'LayerNormalization',
    build: (c) => {
      const x = c.input('x', [2, 3, 8]);
      const w = c.input('w', [8]);
      const bias = c.input('b', [8]);
      return { out: ops.layerNorm(x, w, bias, 1e-5), wrt: [x, w, bias] };
    },
  },
  rmsNorm: {
    fusedOpType: 'SimplifiedLayerNormalization',
    build: (c) => {
      const x = c.input('x', [2, 3, 8]);
      const w = c.input('w', [8]);
      return { out: ops.rmsNorm(x, w, 1e-6), wrt: [x, w] };
    },
  },
  gelu: {
    fusedOpType: 'Gelu',
    build: (c) => {
      const x = c.input('x', [3, 7], { lo: -4, hi: 4 });
      return { out: ops.gelu(x), wrt: [x] };
    },
  },
  'gelu tanh': {
    fusedOpType: 'FastGelu',
    build: (c) => {
      const x = c.input('x', [3, 7], { lo: -4, hi: 4 });
      return { out: ops.gelu(x, 'tanh'), wrt: [x] };
    },
  },
  crossEntropy: {
    fusedOpType: 'SoftmaxCrossEntropyLoss',
    build: (c) => {
      const logits = c.input('logits', [2, 3, 11], { lo: -3, hi: 3 });
      const labels = c.input('labels', [2, 3], { dtype: 'i32', values: [0, 10, -100, 4, 4, 7] });
      return { out: ops.crossEntropy(logits, labels), wrt: [logits] };
    },
  },
  'crossEntropy all ignored': {
    fusedOpType: 'SoftmaxCrossEntropyLoss',
    build: (c) => {
      const logits = c.input('logits', [3, 5]);
      const labels = c.input('labels', [3], { dtype: 'i32', values: [-100, -100, -100] });
      return { out: ops.crossEntropy(logits, labels), wrt: [logits] };
    },
  },
  matmulNf4: {
    fusedOpType: 'MatMulBnb4',
    build: (c) => {
      const x = c.input('x', [2, 3, 32]);
      const codes = c.input('codes', [16 * 32 / 2], { dtype: 'u8', lo: 0, hi: 256 });
      const absmax = c.input('absmax', [16 * 32 / 64], { lo: 0.1, hi: 2 });
      return { out: ops.matmulNf4(x, codes, absmax, { shape: [16, 32], blockSize: 64 }), wrt: [x, absmax] };
    },
  },
  'matmulNf4 fp4': {
    fusedOpType: 'MatMulBnb4',
    build: (c) => {
      const x = c.input('x', [5, 64]);
      const codes = c.input('codes', [8 * 64 / 2], { dtype: 'u8', lo: 0, hi: 256 });
      const absmax = c.input('absmax', [8 * 64 / 32], { lo: 0.1, hi: 2 });
      return { out: ops.matmulNf4(x, codes, absmax, { shape: [8, 64], blockSize: 32, codebook: 'fp4' }), wrt: [x, absmax] };
    },
  },
  dequantizeDynamic8: {
    build: (c) => {
      const codes = c.input('codes', [300], { dtype: 'u8', lo: 0, hi: 256 });
      const scale = c.input('scale', [2], { lo: 0.5, hi: 2 });
      const offset = c.input('offset', [], { lo: -0.1, hi: 0.1 });
      return { out: ops.dequantizeDynamic8(codes, scale, offset, 256), wrt: [scale, offset] };
    },
  },
  silu: {
    build: (c) => {
      const x = c.input('x', [4, 5], { lo: -4, hi: 4 });
      return { out: ops.silu(x), wrt: [x] };
    },
  },
  rope: {
    build: (c) => {
      const x = c.input('x', [2, 2, 4, 8]);
      const pos = c.input('pos', [4], { dtype: 'i32', values: [0, 1, 2, 3] });
      const t = ops.ropeTables(pos, 8, 10000);
      return { out: ops.rope(x, t.cos, t.sin), wrt: [x] };
    },
  },
  'attention causal with mask': {
    build: (c) => {
      const q = c.input('q', [2, 3, 4]);
      const k = c.input('k', [2, 5, 4]);
      const v = c.input('v', [2, 5, 6]);
      const mask = c.input('mask', [1, 5], { values: [0, 0, -1e9, 0, 0] });
      return { out: ops.attention(q, k, v, { causal: true, mask }), wrt: [q, k, v] };
    },
  },
  'linearLogSumExp softcap, bf16 weight': {
    build: (c) => {
      const h = c.input('h', [5, 4]);
      const w = c.input('w', [7, 4], { lo: -0.5, hi: 0.5 });
      // A bf16 table (the frozen LM head of a 16-bit checkpoint): rounded in the graph, upcast inside the op.
      return { out: ops.linearLogSumExp(h, ops.cast(w, 'bf16'), { chunk: 2, softcap: 1.5 }), wrt: [h] };
    },
  },
  linearLogSumExp: {
    build: (c) => {
      const h = c.input('h', [5, 4]);
      const w = c.input('w', [7, 4]);
      return { out: ops.linearLogSumExp(h, w, { chunk: 2 }), wrt: [h, w] };
    },
  },
  dropout: {
    build: (c) => {
      const x = c.input('x', [64, 9]);
      c.input('rng.seed', [], { dtype: 'i32', values: [12345] });
      c.input('rng.step', [], { dtype: 'i32', values: [-3] });
      return { out: ops.dropout(x, 0.3), wrt: [x] };
    },
  },
};

describe('composites: fused kernel and expansion both match the reference', () => {
  for (const [name, k] of Object.entries(cases)) {
    it(`${name} (expanded)`, async () => {
      const c = new CaseBuilder(name.length);
      const { out, wrt } = k.build(c);
      await checkAgainstReference(expandedBackend, c, out, wrt, TOL);
    });
    it(`${name} (fused${k.fusedOpType ? ` as ${k.fusedOpType}` : ': no fused kernel, expansion'})`, async () => {
      const c = new CaseBuilder(name.length);
      const { out, wrt } = k.build(c);
      await checkAgainstReference(fusedBackend, c, out, wrt, TOL);
      const model = inspectModel(encodeModel(lowerGraph(c.g, { outputs: ['y'] }).model));
      const types = model.nodes.map((n) => n.opType);
      if (k.fusedOpType) expect(types).toContain(k.fusedOpType);
    });
  }

  it('every composite is covered here', () => {
    const tested = new Set(Object.keys(cases).map((n) => n.split(' ')[0]));
    expect(listOps('composite').map((d) => d.name).filter((n) => !tested.has(n))).toEqual([]);
    expect(fusedOps().filter((n) => !tested.has(n))).toEqual([]);
  });
});
