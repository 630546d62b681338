// Helpers shared by this package's tests (not exported from the package).
import { Embedding, evaluate, grad, Graph, Linear, Module, NDArray, ops, rng, type HostTensor, type Tensor } from '@lowrank/core';

export function randomArray(shape: readonly number[], seed: number, lo = -1, hi = 1): NDArray {
  const n = shape.reduce((p, d) => p * d, 1);
  const stream = rng.streamWord(seed, 7, 99);
  // Values rounded to float32 so that f32 parameters hold them exactly.
  return NDArray.from(shape, Array.from({ length: n }, (_, i) => Math.fround(lo + (hi - lo) * rng.uniformAt(stream, i))));
}

export function toNd(t: HostTensor): NDArray {
  return NDArray.fromHost(t.shape, t.dtype, t.data);
}

export function feedsOf(weights: ReadonlyMap<string, HostTensor>): Record<string, NDArray> {
  const out: Record<string, NDArray> = {};
  for (const [k, v] of weights) out[k] = toNd(v);
  return out;
}

/** A root module with one or more linear children, to adapt in tests. */
export class TinyNet extends Module {
  constructor(layers: Record<string, Linear>) {
    super();
    for (const [name, l] of Object.entries(layers)) this.addModule(name, l);
  }

  call(name: string, x: Tensor): Tensor {
    const child = this.children.get(name) as unknown as { forward(x: Tensor): Tensor; path: string };
    return x.graph.at(child.path, [], () => child.forward(x));
  }
}

export interface GradCheckOutcome {
  readonly maxRelError: number;
  readonly analytic: Map<string, Float64Array>;
  readonly numeric: Map<string, Float64Array>;
}

/**
 * Analytic gradients (float64 reference evaluator) of loss = Σ out·u (u fixed) with respect to the named
 * feeds, against central differences of `lossFn` (default: the same graph).
 */
export function gradCheck(
  build: (g: Graph) => Tensor,
  feeds: Record<string, NDArray>,
  wrt: readonly string[],
  opts: { seed?: number; h?: number; lossFn?: (feeds: Record<string, NDArray>) => number } = {},
): GradCheckOutcome {
  const g = new Graph();
  const out = build(g);
  const u = randomArray(out.shape, opts.seed ?? 5);
  const ct = g.input('__cotangent', out.shape, 'f32');
  const loss = ops.sum(ops.mul(out, ct));
  g.output('loss', loss);
  const tensors = wrt.map((n) => (g.params.has(n) ? g.paramTensor(n) : g.tensor(g.inputs.get(n)!.id)));
  grad(loss, tensors).forEach((t, i) => g.output(`grad:${wrt[i]}`, t));
  const all = { ...feeds, __cotangent: u };
  const res = evaluate(g, all);
  // A custom lossFn receives the feeds including `__cotangent`.
  const lossAt = opts.lossFn ?? ((f: Record<string, NDArray>) => evaluate(g, f, ['loss']).get('loss')!.data[0]);
  const h = opts.h ?? 1e-3;
  const analytic = new Map<string, Float64Array>();
  const numeric = new Map<string, Float64Array>();
  let maxRelError = 0;
  for (const name of wrt) {
    const a = res.get(`grad:${name}`)!.data;
    const base = feeds[name];
    const num = new Float64Array(base.size);
    for (let i = 0; i < base.size; i++) {
      const at = (d: number) => {
        const data = base.data.slice();
        data[i] += d;
        return lossAt({ ...all, [name]: new NDArray(base.shape, base.dtype, data) });
      };
      const d1 = (at(h) - at(-h)) / (2 * h);
      const d2 = (at(h / 2) - at(-h / 2)) / h;
      num[i] = (4 * d2 - d1) / 3;
      const rel = Math.abs(a[i] - num[i]) / Math.max(Math.abs(a[i]), Math.abs(num[i]), 1e-3);
      maxRelError = Math.max(maxRelError, rel);
    }
    analytic.set(name, Float64Array.from(a));
    numeric.set(name, num);
  }
  return { maxRelError, analytic, numeric };
}

/** A tiny language model from core nn modules: embedding, two projections with a tanh between, output layer. */
export class TinyLM extends Module {
  constructor(
    readonly vocab: number,
    readonly dim: number,
    opts: { bias?: boolean } = {},
  ) {
    super();
    this.addModule('embed_tokens', new Embedding(vocab, dim));
    this.addModule('q_proj', new Linear(dim, dim, { bias: opts.bias ?? true }));
    this.addModule('v_proj', new Linear(dim, dim, { bias: opts.bias ?? true }));
    this.addModule('lm_head', new Linear(dim, vocab, { bias: false }));
  }

  private call(name: string, x: Tensor): Tensor {
    const child = this.children.get(name) as unknown as { forward(x: Tensor): Tensor; path: string };
    return x.graph.at(child.path, [], () => child.forward(x));
  }

  logits(ids: Tensor): Tensor {
    const h = (this.children.get('embed_tokens') as Embedding).forward(ids);
    const a = ops.tanh(this.call('q_proj', h));
    return this.call('lm_head', ops.add(h, this.call('v_proj', a)));
  }

  /** Seeded random weights for every parameter the model declares now. */
  randomWeights(seed: number): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    let k = 0;
    for (const [name, spec] of this.namedParams()) {
      out.set(name, { shape: [...spec.shape], dtype: 'f32', data: Float32Array.from(randomArray(spec.shape, seed * 101 + k++, -0.5, 0.5).data) });
    }
    return out;
  }
}

export interface DoraReferenceInputs {
  readonly x: ArrayLike<number>;
  /** W [out, in], dense (dequantized for a 4-bit base). */
  readonly w: ArrayLike<number>;
  readonly bias?: ArrayLike<number>;
  readonly a: ArrayLike<number>;
  readonly b: ArrayLike<number>;
  readonly m: ArrayLike<number>;
  readonly rows: number;
  readonly inF: number;
  readonly outF: number;
  readonly r: number;
  readonly scaling: number;
}

/**
 * Independent float64 DoRA: y = m/‖W + s·B·A‖ ⊙ x(W + s·B·A)ᵀ + b, the norm
 * taken with `normFactors` (the base point for the detached formula, the
 * current A and B for the undetached one).
 */
export function doraReference(p: DoraReferenceInputs, normFactors: { a: ArrayLike<number>; b: ArrayLike<number> }): Float64Array {
  const combined = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    const w = new Float64Array(p.outF * p.inF);
    for (let o = 0; o < p.outF; o++) {
      for (let i = 0; i < p.inF; i++) {
        let ba = 0;
        for (let k = 0; k < p.r; k++) ba += b[o * p.r + k] * a[k * p.inF + i];
        w[o * p.inF + i] = p.w[o * p.inF + i] + p.scaling * ba;
      }
    }
    return w;
  };
  const w = combined(p.a, p.b);
  const wn = combined(normFactors.a, normFactors.b);
  const y = new Float64Array(p.rows * p.outF);
  for (let o = 0; o < p.outF; o++) {
    let norm = 0;
    for (let i = 0; i < p.inF; i++) norm += wn[o * p.inF + i] ** 2;
    const factor = p.m[o] / Math.sqrt(norm);
    for (let row = 0; row < p.rows; row++) {
      let dot = 0;
      for (let i = 0; i < p.inF; i++) dot += p.x[row * p.inF + i] * w[o * p.inF + i];
      y[row * p.outF + o] = factor * dot + (p.bias ? p.bias[o] : 0);
    }
  }
  return y;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
