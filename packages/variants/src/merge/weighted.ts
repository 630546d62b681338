import type { HostTensor, Module } from '@lowrank/core';
import { adapterConfigs, loraLayers, registerAdapterConfig } from '../apply.js';
import type { ResolvedLoraConfig } from '../config.js';
import { AdapterNameError, MergeError } from '../errors.js';
import { hstack, matrix, vstack, type Matrix } from '../linalg/matrix.js';
import { svdOfProduct, truncatedSvd, type Svd } from '../linalg/svd.js';
import type { LoraLayer } from '../lora/lora-layer.js';
import { toWeightMap, type WeightSource } from '../weights.js';
import { adapterFactors, deltaWeight } from './delta.js';
import { combineTasks, type MajoritySignMethod, type TaskCombination } from './merge-utils.js';

export type CombinationType = TaskCombination | 'cat' | 'svd' | 'ties_svd' | 'dare_linear_svd' | 'dare_ties_svd' | 'magnitude_prune_svd';

export interface WeightedAdapterOptions {
  /** Adapters to combine, and one weight each. */
  adapters: readonly string[];
  weights: readonly number[];
  /** Name of the new adapter. */
  name: string;
  combinationType?: CombinationType;
  /** Rank of an SVD-based result (default: the largest input rank). */
  svdRank?: number;
  /** Quantile at which the SVD factors are clamped (PEFT's svd_clamp). */
  svdClamp?: number;
  density?: number;
  majoritySignMethod?: MajoritySignMethod;
  /** Seed of DARE's random pruning and of the truncated SVD. */
  seed?: number;
}

export interface WeightedAdapterResult {
  /** The weights with the new adapter's A and B added. */
  readonly weights: Map<string, HostTensor>;
  readonly rank: number;
  readonly notices: readonly string[];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function relativePath(model: Module, path: string): string {
  return model.path && path.startsWith(`${model.path}.`) ? path.slice(model.path.length + 1) : path;
}

/** PEFT's union of target_modules: lists merge, regular expressions are alternated. */
function unionTargets(ts: readonly (readonly string[] | string | null)[]): readonly string[] | string | null {
  if (ts.every((t) => Array.isArray(t))) return [...new Set(ts.flatMap((t) => t as readonly string[]))];
  if (ts.every((t) => typeof t === 'string')) return ts.map((t) => `(${t as string})`).join('|');
  return ts[0];
}

const TASK_TYPES: readonly string[] = ['linear', 'ties', 'dare_linear', 'dare_ties', 'magnitude_prune'];

function clampQuantile(svd: { u: Matrix; v: Matrix }, q: number): void {
  const all = Float64Array.from([...svd.u.data, ...svd.v.data]).sort();
  // torch.quantile: linear interpolation between closest ranks.
  const pos = q * (all.length - 1);
  const lo = Math.floor(pos);
  const hi = all[lo] + (pos - lo) * ((all[Math.min(lo + 1, all.length - 1)] ?? all[lo]) - all[lo]);
  for (const m of [svd.u, svd.v]) for (let i = 0; i < m.data.length; i++) m.data[i] = Math.min(hi, Math.max(-hi, m.data[i]));
}

/** B = U·diag(S) [out, k] and A = Vᵀ [k, in] from the top-k triplets, zero-padded past the available rank. */
function factorsFromSvd(svd: Svd, k: number, outF: number, inF: number, clamp?: number): { a: Matrix; b: Matrix } {
  const b = matrix(outF, k);
  const a = matrix(k, inF);
  const avail = Math.min(k, svd.s.length);
  for (let j = 0; j < avail; j++) {
    for (let i = 0; i < outF; i++) b.data[i * k + j] = svd.u.data[i * svd.u.cols + j] * svd.s[j];
    for (let i = 0; i < inF; i++) a.data[j * inF + i] = svd.v.data[i * svd.v.cols + j];
  }
  if (clamp !== undefined) clampQuantile({ u: b, v: a }, clamp);
  return { a, b };
}

function combineLayer(layer: LoraLayer, present: string[], ws: number[], weights: WeightSource, o: WeightedAdapterOptions, kind: CombinationType, rank: number): { a: Matrix; b: Matrix } {
  const scaling = present.map((n) => layer.adapters.get(n)!.scaling);
  const [inF, outF] = [layer.inFeatures, layer.outFeatures];
  if (kind === 'cat') {
    // ΔW = Σ B_i · (w_i·s_i·A_i): the new adapter (scaling 1) reproduces the weighted sum of deltas exactly.
    const parts = present.map((n, k) => {
      const f = adapterFactors(layer, n, weights);
      return { a: matrix(f.a.rows, f.a.cols, f.a.data.map((v) => v * ws[k] * scaling[k])), b: f.b };
    });
    return { a: vstack(parts.map((p) => p.a)), b: hstack(parts.map((p) => p.b)) };
  }
  if (TASK_TYPES.includes(kind)) {
    // PEFT combines A and B separately with weights √(w_i·s_i).
    const roots = present.map((_, k) => Math.sqrt(ws[k] * scaling[k]));
    const fs = present.map((n) => adapterFactors(layer, n, weights));
    const opts = { density: o.density, majoritySignMethod: o.majoritySignMethod, seed: o.seed, key: layer.path };
    const a = combineTasks(kind as TaskCombination, fs.map((f) => f.a.data), roots, { ...opts, key: `${layer.path}.A` });
    const b = combineTasks(kind as TaskCombination, fs.map((f) => f.b.data), roots, { ...opts, key: `${layer.path}.B` });
    return { a: matrix(fs[0].a.rows, inF, a), b: matrix(outF, fs[0].b.cols, b) };
  }
  // SVD family: PEFT weights each delta s_i·B_i·A_i by w_i·s_i (the scaling enters twice, as in PEFT).
  const cw = present.map((_, k) => ws[k] * scaling[k]);
  let svd: Svd;
  if (kind === 'svd') {
    // Σ c_i·s_i·B_i·A_i = [c_1 s_1 B_1 | ...] · [A_1; ...]: QR of both stacks, SVD of the small core.
    const fs = present.map((n) => adapterFactors(layer, n, weights));
    const bStack = hstack(fs.map((f, k) => matrix(f.b.rows, f.b.cols, f.b.data.map((v) => v * cw[k] * scaling[k]))));
    svd = svdOfProduct(bStack, vstack(fs.map((f) => f.a)));
  } else {
    // Pruned deltas are no longer low rank: a truncated SVD (subspace iteration), never a full one.
    const base = kind.slice(0, -'_svd'.length) as TaskCombination;
    const deltas = present.map((n) => deltaWeight(layer, n, weights).data);
    const combined = combineTasks(base, deltas, cw, { density: o.density, majoritySignMethod: o.majoritySignMethod, seed: o.seed, key: layer.path });
    svd = truncatedSvd(matrix(outF, inF, combined), rank, { iterations: 12, seed: o.seed ?? 1 });
  }
  return factorsFromSvd(svd, rank, outF, inF, o.svdClamp);
}

/**
 * Creates adapter `name` from a weighted combination of existing adapters
 * (PEFT's add_weighted_adapter). New rank: the shared rank (linear, ties,
 * dare_*, magnitude_prune), the sum of ranks (cat) or svdRank / the largest
 * rank (SVD family); lora_alpha equals the new rank, so its scaling is 1.
 */
export function addWeightedAdapter(model: Module, weights: WeightSource, o: WeightedAdapterOptions): WeightedAdapterResult {
  const configs = adapterConfigs(model);
  if (configs.has(o.name)) throw new AdapterNameError(o.name, 'already exists; pick a new name for the combined adapter');
  if (o.adapters.length === 0 || o.adapters.length !== o.weights.length) throw new MergeError(`give one weight per adapter (got ${o.adapters.length} adapters and ${o.weights.length} weights)`);
  for (const a of o.adapters) if (!configs.has(a)) throw new AdapterNameError(a, `is not on this model; adapters: ${[...configs.keys()].join(', ')}`);
  const notices: string[] = [];
  let kind: CombinationType = o.combinationType ?? 'svd';
  if (o.adapters.length === 1 && kind !== 'linear') {
    notices.push(`one adapter only: combination '${kind}' replaced by 'linear', as PEFT does`);
    kind = 'linear';
  }
  const ranks = o.adapters.map((a) => configs.get(a)!.r);
  if (o.adapters.some((a) => configs.get(a)!.use_dora)) throw new MergeError('addWeightedAdapter does not combine DoRA adapters (their magnitudes do not add); merge them into the base instead');
  let rank: number;
  if (TASK_TYPES.includes(kind)) {
    if (new Set(ranks).size !== 1) throw new MergeError(`combination '${kind}' needs adapters of one rank, got ranks ${ranks.join(', ')}; use 'cat' or an SVD type`);
    rank = ranks[0];
  } else if (kind === 'cat') rank = ranks.reduce((s, r) => s + r, 0);
  else if (kind.endsWith('svd')) rank = o.svdRank ?? Math.max(...ranks);
  else throw new MergeError(`unknown combination type '${String(kind)}'`);

  const first = configs.get(o.adapters[0])!;
  const rankPattern: Record<string, number> = {};
  const out = toWeightMap(weights);
  for (const layer of loraLayers(model).values()) {
    const idx = o.adapters.map((a, k) => (layer.adapters.has(a) ? k : -1)).filter((k) => k >= 0);
    if (idx.length === 0) continue;
    const present = idx.map((k) => o.adapters[k]);
    const ws = idx.map((k) => o.weights[k]);
    const layerRank = kind === 'cat' ? present.reduce((s, n) => s + layer.adapters.get(n)!.r, 0) : rank;
    const { a, b } = combineLayer(layer, present, ws, out, o, kind, layerRank);
    const scaling = first.use_rslora ? layerRank / Math.sqrt(layerRank) : 1;
    layer.addAdapter({ name: o.name, r: layerRank, alpha: layerRank, scaling, dropout: first.lora_dropout, useDora: false });
    out.set(layer.paramName('lora_A', o.name), { shape: [layerRank, layer.inFeatures], dtype: 'f32', data: Float32Array.from(a.data) });
    out.set(layer.paramName('lora_B', o.name), { shape: [layer.outFeatures, layerRank], dtype: 'f32', data: Float32Array.from(b.data) });
    layer.setActive(layer.active);
    // A layer whose rank differs from the config's (cat over per-layer ranks) is recorded, so a saved config reloads it.
    if (layerRank !== rank) rankPattern[escapeRegExp(relativePath(model, layer.path))] = layerRank;
  }
  const config: ResolvedLoraConfig = {
    ...first,
    r: rank,
    lora_alpha: rank,
    target_modules: unionTargets(o.adapters.map((a) => configs.get(a)!.target_modules)),
    rank_pattern: rankPattern,
    alpha_pattern: { ...rankPattern },
    init_lora_weights: true,
    use_dora: false,
  };
  registerAdapterConfig(model, o.name, config);
  return { weights: out, rank, notices };
}
