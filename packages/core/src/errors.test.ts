import { describe, expect, it } from 'vitest';
import {
  assertSupported,
  createReferenceBackend,
  DTypeError,
  emit,
  evaluate,
  getOp,
  Graph,
  GraphCycleError,
  LowrankError,
  ops,
  schedule,
  ShapeError,
  UnknownOpError,
  UnsupportedOpError,
  unsupportedUses,
  type BackendCapabilities,
} from './index.js';

/** Runs `fn`, expecting it to throw an instance of `cls`; returns the error for closer checks. */
function thrown<E extends Error>(cls: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    expect(e).toBeInstanceOf(LowrankError);
    return e as E;
  }
  throw new Error(`expected ${cls.name}, nothing was thrown`);
}

describe('typed errors carry the facts', () => {
  it('mismatched matmul shapes: ShapeError names matmul, both shapes and the module path', () => {
    const g = new Graph();
    const x = g.input('x', [2, 3]);
    const w = g.param('w', [4, 5]);
    const e = thrown(ShapeError, () => g.scope('model', () => g.scope('layers.0.mlp', () => ops.matmul(x, w))));
    expect(e.op).toBe('matmul');
    expect(e.inputShapes).toEqual([
      [2, 3],
      [4, 5],
    ]);
    expect(e.modulePath).toBe('model.layers.0.mlp');
    expect(e.message).toContain('matmul');
    expect(e.message).toContain('[2, 3]');
    expect(e.message).toContain('[4, 5]');
    expect(e.message).toContain('model.layers.0.mlp');
    expect(e.message).toMatch(/3 vs 4/);
  });

  it('matmul batch dims that do not broadcast are a ShapeError too', () => {
    const g = new Graph();
    const e = thrown(ShapeError, () => ops.matmul(g.input('a', [2, 3, 4]), g.input('b', [5, 4, 6])));
    expect(e.message).toContain('[2]');
    expect(e.message).toContain('[5]');
  });

  it('a shape error inside a composite names the composite', () => {
    const g = new Graph();
    const e = thrown(ShapeError, () => g.scope('attn', () => ops.attention(g.input('q', [2, 3, 4]), g.input('k', [2, 3, 5]), g.input('v', [2, 3, 5]))));
    expect(e.op).toBe('attention');
    expect(e.modulePath).toBe('attn');
    expect(e.message).toContain('head dim');
  });

  it('wrong dtype to gather: DTypeError names gather, the dtypes and the module', () => {
    const g = new Graph();
    const table = g.param('embed_tokens.weight', [10, 4]);
    const idx = g.input('input_ids', [2, 3], 'f32');
    const e = thrown(DTypeError, () => g.scope('model.embed_tokens', () => ops.gather(table, idx)));
    expect(e.op).toBe('gather');
    expect(e.inputDtypes).toEqual(['f32', 'f32']);
    expect(e.modulePath).toBe('model.embed_tokens');
    expect(e.message).toMatch(/indices must be i32, got f32/);
    expect(e.message).toContain('ops.cast');
  });

  it('a cycle: schedule and evaluate throw GraphCycleError naming the nodes on the cycle', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const a = ops.exp(x);
    const b = ops.tanh(a);
    const c = ops.neg(b);
    g.output('c', c);
    g.setInputs(a.id, [c.id]); // a now reads c, which reads b, which reads a.
    const e = thrown(GraphCycleError, () => schedule(g));
    expect([...e.nodes].sort()).toEqual([a.id, a.id, b.id, c.id].sort());
    for (const id of [a.id, b.id, c.id]) expect(e.message).toContain(id);
    expect(e.nodes).not.toContain(x.id);
    thrown(GraphCycleError, () => evaluate(g, {}));
  });

  it('an unknown op: UnknownOpError names it and lists the known ones', () => {
    const g = new Graph();
    const x = g.input('x', [3]);
    const e = thrown(UnknownOpError, () => emit('softplus', [x]));
    expect(e.op).toBe('softplus');
    expect(e.message).toContain("'softplus'");
    expect(e.message).toContain('defineOp');
    expect(e.message).toContain('matmul');
    thrown(UnknownOpError, () => getOp('softplus'));
  });

  it('elementwise shapes that do not broadcast name the op and both shapes', () => {
    const g = new Graph();
    const e = thrown(ShapeError, () => ops.add(g.input('a', [2, 3]), g.input('b', [4])));
    expect(e.op).toBe('add');
    expect(e.message).toContain('[2, 3]');
    expect(e.message).toContain('[4]');
  });
});

describe('backend support checks', () => {
  const full = createReferenceBackend().capabilities;
  const lacking = (missing: string[], opts: Partial<BackendCapabilities> = {}): { name: string; capabilities: BackendCapabilities } => ({
    name: 'tiny-backend',
    capabilities: { ...full, ops: new Set([...full.ops].filter((o) => !missing.includes(o))), fusedOps: new Set(), ...opts },
  });

  it('a backend lacking a primitive: UnsupportedOpError names the backend and the op', () => {
    const g = new Graph();
    g.output('y', ops.matmul(g.input('a', [2, 3]), g.input('b', [3, 4])));
    const e = thrown(UnsupportedOpError, () => assertSupported(lacking(['matmul']), g));
    expect(e.backend).toBe('tiny-backend');
    expect(e.op).toBe('matmul');
    expect(e.message).toContain("'tiny-backend'");
    expect(e.message).toContain("'matmul'");
    expect(() => assertSupported({ name: 'reference', capabilities: full }, g)).not.toThrow();
  });

  it('an unfused composite is checked through its expansion', () => {
    const g = new Graph();
    const q = g.input('q', [1, 2, 4]);
    g.output('y', g.scope('self_attn', () => ops.attention(q, q, q, { causal: true })));
    const e = thrown(UnsupportedOpError, () => assertSupported(lacking(['softmax']), g));
    expect(e.op).toBe('softmax');
    // The same backend declaring attention fused needs no softmax kernel.
    expect(() => assertSupported(lacking(['softmax'], { fusedOps: new Set(['attention']) }), g)).not.toThrow();
  });

  it('a dtype the backend lacks is reported with the op that produces it', () => {
    const g = new Graph();
    g.output('m', ops.greater(g.input('a', [3]), 0));
    const uses = unsupportedUses({ ...full, dtypes: ['f32', 'i32'] }, g);
    expect(uses).toEqual([expect.objectContaining({ op: 'greater', detail: expect.stringContaining('bool') })]);
  });
});
