import { rng, type HostTensor, type Module } from '@lowrank/core';
import { adapterConfigs, loraLayers } from '../apply.js';
import { rowNorms } from '../dora/magnitude.js';
import { AdapterConfigError, AdapterNameError } from '../errors.js';
import { addInto, matmul, matrix, scale, transpose, type Matrix } from '../linalg/matrix.js';
import { truncatedSvd } from '../linalg/svd.js';
import { baseWeightMatrix, f32, type WeightSource } from '../weights.js';
import type { LoraLayer } from './lora-layer.js';

export interface InitialStateOptions {
  /** Seed of the random draws; each tensor draws from (seed, its full name). */
  seed?: number;
  /** Adapter to initialise (default: every adapter of the model). */
  adapter?: string;
}

function uniformValues(seed: number, name: string, n: number, bound: number): Float64Array {
  const stream = rng.streamWord(seed, 0, rng.stringKey(name));
  return Float64Array.from({ length: n }, (_, i) => (2 * rng.uniformAt(stream, i) - 1) * bound);
}

function normalValues(seed: number, name: string, n: number, std: number): Float64Array {
  const stream = rng.streamWord(seed, 0, rng.stringKey(name));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = rng.uniformAt(stream, i) + 2 ** -25;
    const u2 = rng.uniformAt(stream, i + 1);
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2) * std;
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2) * std;
  }
  return out;
}

/** torch's kaiming_uniform_(a=√5) on a [rows, fanIn] weight: U(-1/√fanIn, 1/√fanIn). */
function kaimingUniform(seed: number, name: string, rows: number, fanIn: number): Matrix {
  return matrix(rows, fanIn, uniformValues(seed, name, rows * fanIn, 1 / Math.sqrt(fanIn)));
}

/**
 * PiSSA: A and B from the top-r singular triplets of W (A = √S·Vᵀ/√s,
 * B = U·√S/√s), and W keeps the residual W - s·B·A, so the layer's output is
 * unchanged at step 0. A truncated SVD (subspace iteration) is used, never a
 * full decomposition of W.
 */
function pissa(w: Matrix, r: number, scaling: number, niter: number, seed: number): { a: Matrix; b: Matrix; residual: Matrix } {
  const { u, s, v } = truncatedSvd(w, r, { iterations: niter, seed });
  const a = matrix(r, w.cols);
  const b = matrix(w.rows, r);
  for (let k = 0; k < r; k++) {
    const root = Math.sqrt((s[k] ?? 0) / scaling);
    for (let j = 0; j < w.cols; j++) a.data[k * w.cols + j] = root * v.data[j * v.cols + k];
    for (let i = 0; i < w.rows; i++) b.data[i * r + k] = root * u.data[i * u.cols + k];
  }
  const residual = matrix(w.rows, w.cols, w.data);
  addInto(residual, matmul(b, a), -scaling);
  return { a, b, residual };
}

/**
 * Initial values of adapter tensors, by full parameter name, following the
 * adapter's init_lora_weights. `base` holds the base model weights (PiSSA and
 * DoRA read W). For PiSSA the result also holds the adjusted base weights
 * under their own names: load them over the originals.
 */
export function initialAdapterState(model: Module, base: WeightSource, opts: InitialStateOptions = {}): Map<string, HostTensor> {
  const seed = opts.seed ?? 0;
  const configs = adapterConfigs(model);
  if (opts.adapter !== undefined && !configs.has(opts.adapter)) throw new AdapterNameError(opts.adapter, 'is not on this model');
  const out = new Map<string, HostTensor>();
  for (const layer of loraLayers(model).values()) {
    for (const adapter of layer.adapters.values()) {
      if (opts.adapter !== undefined && adapter.name !== opts.adapter) continue;
      const init = configs.get(adapter.name)?.init_lora_weights ?? true;
      initLayerAdapter(layer, adapter.name, init, base, seed, out);
    }
  }
  return out;
}

function initLayerAdapter(layer: LoraLayer, name: string, init: unknown, base: WeightSource, seed: number, out: Map<string, HostTensor>): void {
  const a = layer.adapters.get(name)!;
  const [inF, outF] = [layer.inFeatures, layer.outFeatures];
  const aName = layer.paramName('lora_A', name);
  const bName = layer.paramName('lora_B', name);
  let A: Matrix;
  let B: Matrix;
  let w: Matrix | null = null;
  if (typeof init === 'string' && (init === 'pissa' || /^pissa_niter_\d+$/.test(init))) {
    if (layer.baseSpec.kind !== 'dense') throw new AdapterNameError(name, `PiSSA needs a dense base weight, '${layer.path}' is quantized`);
    const niter = init === 'pissa' ? 16 : Number(init.slice('pissa_niter_'.length));
    const res = pissa(baseWeightMatrix(layer.baseSpec, base, layer.path), a.r, a.scaling, niter, seed);
    [A, B, w] = [res.a, res.b, res.residual];
    const stored = layer.baseSpec.fanInFanOut ? transpose(res.residual) : res.residual;
    out.set(layer.baseName('weight'), f32([stored.rows, stored.cols], stored.data));
  } else if (typeof init === 'string' && init !== 'gaussian') {
    throw new AdapterConfigError('init_lora_weights', `'${init}' is not supported for initialisation; use true, false, 'gaussian', 'pissa' or 'pissa_niter_K' (a trained adapter with any init can still be loaded)`);
  } else if (init === 'gaussian') {
    A = matrix(a.r, inF, normalValues(seed, aName, a.r * inF, 1 / a.r));
    B = matrix(outF, a.r);
  } else {
    A = kaimingUniform(seed, aName, a.r, inF);
    // init_lora_weights=false leaves B at torch's default Linear init too (non-zero).
    B = init === false ? kaimingUniform(seed, bName, outF, a.r) : matrix(outF, a.r);
  }
  out.set(aName, f32([a.r, inF], A.data));
  out.set(bName, f32([outF, a.r], B.data));
  if (a.useDora) {
    const weight = w ?? baseWeightMatrix(layer.baseSpec, base, layer.path);
    // Computed from the float32 values the graph will see.
    const Af = matrix(a.r, inF, Float32Array.from(A.data));
    const Bf = matrix(outF, a.r, Float32Array.from(B.data));
    const combined = addInto(matrix(outF, inF, weight.data), scale(matmul(Bf, Af), a.scaling));
    out.set(layer.paramName('lora_magnitude_vector', name), f32([outF], rowNorms(combined)));
  }
}
