import { ops, rng, type Backend, type Graph, type HostTensor, type Module } from '@lowrank/core';
import { loraLayers } from '../apply.js';
import { AdapterConfigError } from '../errors.js';
import { loraPath, type LoraLayer } from '../lora/lora-layer.js';

/** Graph output carrying one layer's Σ ||ΔW x||² over a batch. */
export const importanceOutput = (layerPath: string): string => `lora_drop.importance:${layerPath}`;

/**
 * Makes the next traced graph output, per adapted layer, the squared norm of
 * the adapter's contribution s·B·A·x summed over the batch (LoRA-drop's
 * importance). Returns the output names by layer path; `clearImportanceProbes` undoes it.
 */
export function attachImportanceProbes(model: Module, adapter = 'default'): Record<string, string> {
  const names: Record<string, string> = {};
  for (const layer of loraLayers(model).values()) {
    if (!layer.adapters.has(adapter)) continue;
    names[layer.path] = importanceOutput(layer.path);
    layer.pathOverride = (x, a, factors, l) => {
      const { A, B } = factors();
      const delta = loraPath(x, A, B);
      const scaled = ops.mul(delta, a.scaling);
      x.graph.output(importanceOutput(l.path), ops.sum(ops.mul(scaled, scaled)));
      return delta;
    };
  }
  return names;
}

export function clearImportanceProbes(model: Module): void {
  for (const layer of loraLayers(model).values()) layer.pathOverride = undefined;
}

export interface ImportanceMeasurement {
  readonly backend: Backend;
  readonly model: Module;
  /** Traces the model's forward graph (evaluation mode); called once with the probes on. */
  readonly trace: () => Graph;
  /** Base weights and the warmed-up adapter values, by name. */
  readonly parameters: Readonly<Record<string, HostTensor>>;
  /** Feeds of the sampled batches. */
  readonly batches: Iterable<Readonly<Record<string, HostTensor>>>;
  readonly adapter?: string;
}

/** Σ over the sampled data of ||ΔW_i x_i||² for each adapted layer i, measured on the backend. */
export async function measureLayerImportance(m: ImportanceMeasurement): Promise<Record<string, number>> {
  const names = attachImportanceProbes(m.model, m.adapter);
  let graph: Graph;
  try {
    graph = m.trace();
  } finally {
    clearImportanceProbes(m.model);
  }
  const exe = await m.backend.compile(graph, { outputs: Object.values(names) });
  try {
    const params: Record<string, HostTensor> = {};
    for (const name of graph.params.keys()) {
      const v = m.parameters[name];
      if (!v) throw new AdapterConfigError('parameters', `no value for '${name}'; pass base weights and adapter values`);
      params[name] = v;
    }
    await exe.setParameters(params);
    const totals: Record<string, number> = Object.fromEntries(Object.keys(names).map((p) => [p, 0]));
    for (const feeds of m.batches) {
      const out = await exe.run(feeds);
      for (const [path, name] of Object.entries(names)) totals[path] += Number(out[name].data[0]);
    }
    return totals;
  } finally {
    exe.dispose();
  }
}

export interface LayerSelection {
  /** Layers that keep their own adapter, most important first. */
  readonly kept: readonly string[];
  /** Layers that share one adapter per shape. */
  readonly dropped: readonly string[];
  /** Importance of each layer normalized to sum 1. */
  readonly normalized: Readonly<Record<string, number>>;
  /** Cumulative normalized importance of the kept layers. */
  readonly cumulative: number;
}

/** Keeps the most important layers until their normalized cumulative importance reaches `threshold`. */
export function selectLayers(importance: Readonly<Record<string, number>>, threshold: number): LayerSelection {
  if (!(threshold > 0 && threshold <= 1)) throw new AdapterConfigError('lora_drop threshold', `must be in (0, 1], got ${threshold}`);
  const entries = Object.entries(importance);
  const total = entries.reduce((s, [, v]) => s + v, 0);
  if (!(total > 0)) throw new AdapterConfigError('lora_drop importance', 'all layer importances are zero; warm up the adapter (B starts at zero) before measuring');
  const sorted = entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const kept: string[] = [];
  let cumulative = 0;
  for (const [path, v] of sorted) {
    if (cumulative >= threshold) break;
    kept.push(path);
    cumulative += v / total;
  }
  const keptSet = new Set(kept);
  return {
    kept,
    dropped: sorted.map(([p]) => p).filter((p) => !keptSet.has(p)),
    normalized: Object.fromEntries(sorted.map(([p, v]) => [p, v / total])),
    cumulative,
  };
}

/** Name of the adapter tensor shared by the dropped layers of one shape (in × out). */
export function sharedParamName(layer: LoraLayer, kind: 'lora_A' | 'lora_B', adapter = 'default'): string {
  return `lora_drop.shared.${adapter}.${layer.inFeatures}x${layer.outFeatures}.${kind}.weight`;
}

/**
 * LoRA-drop's second stage: the kept layers train their own adapters, every
 * dropped layer of one shape uses one shared A and B (declared
 * once in the graph), so the adapter parameters shrink to the kept layers plus
 * one pair per group.
 */
export function shareDroppedLayers(model: Module, dropped: readonly string[], adapter = 'default'): void {
  const set = new Set(dropped);
  for (const layer of loraLayers(model).values()) {
    if (!set.has(layer.path) || !layer.adapters.has(adapter)) continue;
    layer.pathOverride = (x, a, _factors, l) => {
      const g = x.graph;
      const get = (kind: 'lora_A' | 'lora_B', shape: number[]) => {
        const name = sharedParamName(l, kind, adapter);
        return g.params.has(name) ? g.paramTensor(name) : g.param(name, shape, { trainable: true });
      };
      return loraPath(x, get('lora_A', [a.r, l.inFeatures]), get('lora_B', [l.outFeatures, a.r]));
    };
  }
}

/** Initial shared tensors (kaiming-uniform A, zero B, like LoRA's default init). */
export function initialSharedState(model: Module, dropped: readonly string[], seed = 0, adapter = 'default'): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const set = new Set(dropped);
  for (const layer of loraLayers(model).values()) {
    const a = layer.adapters.get(adapter);
    if (!a || !set.has(layer.path)) continue;
    const aName = sharedParamName(layer, 'lora_A', adapter);
    if (out.has(aName)) continue;
    const stream = rng.streamWord(seed, 0, rng.stringKey(aName));
    const bound = 1 / Math.sqrt(layer.inFeatures);
    const A = Float32Array.from({ length: a.r * layer.inFeatures }, (_, i) => (2 * rng.uniformAt(stream, i) - 1) * bound);
    out.set(aName, { shape: [a.r, layer.inFeatures], dtype: 'f32', data: A });
    out.set(sharedParamName(layer, 'lora_B', adapter), { shape: [layer.outFeatures, a.r], dtype: 'f32', data: new Float32Array(layer.outFeatures * a.r) });
  }
  return out;
}

export interface ParameterReport {
  /** Adapter parameters with every layer's own adapter. */
  readonly full: number;
  /** Adapter parameters with the dropped layers sharing. */
  readonly used: number;
  /** 1 - used / full. */
  readonly saved: number;
}

export function loraDropParameters(model: Module, dropped: readonly string[], adapter = 'default'): ParameterReport {
  const set = new Set(dropped);
  let full = 0;
  let used = 0;
  const groups = new Set<string>();
  for (const layer of loraLayers(model).values()) {
    const a = layer.adapters.get(adapter);
    if (!a) continue;
    const n = a.r * (layer.inFeatures + layer.outFeatures);
    full += n;
    if (!set.has(layer.path)) used += n;
    else if (!groups.has(sharedParamName(layer, 'lora_A', adapter))) {
      groups.add(sharedParamName(layer, 'lora_A', adapter));
      used += n;
    }
  }
  return { full, used, saved: full > 0 ? 1 - used / full : 0 };
}

/**
 * A plain per-layer LoRA adapter from a LoRA-drop run: kept layers keep their
 * tensors, each dropped layer gets a copy of its group's shared tensors, so the
 * result saves and loads as an ordinary PEFT LoRA adapter.
 */
export function expandSharedAdapter(model: Module, trained: Readonly<Record<string, HostTensor>>, dropped: readonly string[], adapter = 'default'): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  const set = new Set(dropped);
  for (const layer of loraLayers(model).values()) {
    if (!layer.adapters.has(adapter)) continue;
    for (const kind of ['lora_A', 'lora_B'] as const) {
      const source = set.has(layer.path) ? sharedParamName(layer, kind, adapter) : layer.paramName(kind, adapter);
      const t = trained[source];
      if (!t) throw new AdapterConfigError('tensors', `no trained value for '${source}'`);
      out[layer.paramName(kind, adapter)] = t;
    }
  }
  return out;
}
