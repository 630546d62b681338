import { ops, rng, type Graph, type HostTensor, type Module, type Tensor } from '@lowrank/core';
import { isTarget } from '../apply.js';
import { isLinearLike, specOf } from '../base-layer.js';
import { resolveLoraConfig } from '../config.js';
import { AdapterConfigError, TargetModulesNotFoundError } from '../errors.js';
import { resolveAdaLoraConfig, type AdaLoraConfig, type ResolvedAdaLoraConfig } from './config.js';
import { AdaLoraLayer } from './layer.js';

export interface AppliedAdaLora {
  readonly config: ResolvedAdaLoraConfig;
  /** The SVD layers, in model order. */
  readonly layers: readonly AdaLoraLayer[];
}

function relative(model: Module, path: string): string {
  return model.path && path.startsWith(`${model.path}.`) ? path.slice(model.path.length + 1) : path;
}

/**
 * Replaces every targeted linear layer by an AdaLoRA SVD layer of rank init_r
 * (or, for a saved adapter, the number of kept entries of its rank_pattern) and
 * freezes the base model.
 */
export function applyAdaLora(model: Module, config: AdaLoraConfig): AppliedAdaLora {
  const c = resolveAdaLoraConfig(config);
  const lora = resolveLoraConfig({ target_modules: c.target_modules });
  const candidates = [...model.modules()].filter((m) => m !== model && isLinearLike(m));
  const paths = candidates.map((m) => relative(model, m.path));
  const chosen = candidates.filter((_, i) => isTarget(lora, paths[i], paths));
  if (chosen.length === 0) throw new TargetModulesNotFoundError(JSON.stringify(c.target_modules), paths);
  model.setTrainable(false);
  const layers: AdaLoraLayer[] = [];
  for (const m of chosen) {
    const rel = relative(model, m.path);
    const pattern = c.rank_pattern?.[`${rel}.lora_E`];
    if (pattern && pattern.length !== c.init_r) throw new AdapterConfigError('rank_pattern', `'${rel}.lora_E' has ${pattern.length} entries, init_r is ${c.init_r}`);
    const r = pattern ? pattern.filter(Boolean).length : c.init_r;
    const layer = new AdaLoraLayer(specOf(m), r, c.init_r, c.lora_alpha, c.lora_dropout);
    model.replaceSubmodule(rel, layer);
    layers.push(layer);
  }
  return { config: c, layers };
}

/** Training graphs use lora_dropout, evaluation graphs do not. */
export function setAdaLoraTraining(applied: AppliedAdaLora, training: boolean): void {
  for (const l of applied.layers) l.training = training;
}

/** PEFT's init: A and B ~ N(0, 0.02²), E = 0 (so ΔW starts at zero). Seeded per tensor name. */
export function initialAdaLoraState(applied: AppliedAdaLora, seed = 0): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const normal = (name: string, n: number, std: number) => {
    const stream = rng.streamWord(seed, 0, rng.stringKey(name));
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const u1 = rng.uniformAt(stream, 2 * i) + 2 ** -25;
      const u2 = rng.uniformAt(stream, 2 * i + 1);
      v[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2) * std;
    }
    return v;
  };
  for (const l of applied.layers) {
    if (l.r === 0) continue;
    out.set(l.paramName('lora_A'), { shape: [l.r, l.inFeatures], dtype: 'f32', data: normal(l.paramName('lora_A'), l.r * l.inFeatures, 0.02) });
    out.set(l.paramName('lora_B'), { shape: [l.outFeatures, l.r], dtype: 'f32', data: normal(l.paramName('lora_B'), l.outFeatures * l.r, 0.02) });
    out.set(l.paramName('lora_E'), { shape: [l.r, 1], dtype: 'f32', data: new Float32Array(l.r) });
  }
  return out;
}

/**
 * PEFT's orthogonality regularizer: the mean over every A and B of
 * ||A·Aᵀ - I||_F and ||Bᵀ·B - I||_F, read from the traced graph's parameters.
 */
export function orthogonalRegularizer(graph: Graph, applied: AppliedAdaLora): Tensor | undefined {
  const terms: Tensor[] = [];
  graph.at('', [], () => {
    for (const l of applied.layers) {
      if (l.r === 0 || !graph.params.has(l.paramName('lora_A'))) continue;
      const eye = identity(l.r);
      for (const [name, cov] of [
        [l.paramName('lora_A'), (p: Tensor) => ops.matmul(p, p, { transB: true })],
        [l.paramName('lora_B'), (p: Tensor) => ops.matmul(p, p, { transA: true })],
      ] as const) {
        const d = ops.sub(cov(graph.paramTensor(name)), ops.constant(graph, eye, [l.r, l.r]));
        terms.push(ops.sqrt(ops.sum(ops.mul(d, d))));
      }
    }
  });
  if (terms.length === 0) return undefined;
  return graph.at('', [], () => ops.div(terms.reduce((a, b) => ops.add(a, b)), terms.length));
}

function identity(n: number): Float32Array {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}
