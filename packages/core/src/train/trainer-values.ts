import type { HostTensor, ParameterValue } from '../backend/backend.js';
import type { Graph } from '../graph/graph.js';
import { numel } from '../shape.js';
import { TrainStateError } from './errors.js';
import type { TrainGraph } from './train-graph.js';
import type { HookMetric, StepHook } from './types.js';

// The values the trainer hands to the backend and reads back: parameters, initial state, feeds, metrics.

export function i32Scalar(v: number): HostTensor {
  return { shape: [], dtype: 'i32', data: Int32Array.of(v) };
}

export function scalarOf(t: HostTensor | undefined): number {
  if (!t) return Number.NaN;
  return Number(t.data[0]);
}

/** The given values of the graph's model parameters, checking that none is missing. */
export function pickParams(graph: Graph, given: Readonly<Record<string, ParameterValue>>, what: string, skip = new Set<string>(), state = new Set<string>()): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  const missing: string[] = [];
  for (const [name] of graph.params) {
    if (name.startsWith('optim.') || name.startsWith('accum.') || state.has(name)) continue;
    const v = given[name];
    if (v) out[name] = v;
    else if (!skip.has(name)) missing.push(name);
  }
  if (missing.length) {
    throw new TrainStateError(`no initial value for ${missing.length} parameter(s) of the ${what} graph (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}); include them in the parameters option`);
  }
  return out;
}

/** Optimizer moments and accumulators start at zero; hook state at the value its hook declared. */
export function initialState(tg: TrainGraph): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const s of tg.state) out[s.name] = { shape: s.shape, dtype: 'f32', data: new Float32Array(numel(s.shape)).fill(s.init ?? 0) };
  return out;
}

/**
 * A hook feeds whatever its method may use; a given graph (evaluation, or a mode
 * that skips a mask) declares only some of it, and backends differ on extra feeds.
 */
export function declaredOnly(
  feeds: Readonly<Record<string, HostTensor>> | undefined,
  inputs: { has(name: string): boolean },
): Record<string, HostTensor> {
  return Object.fromEntries(Object.entries(feeds ?? {}).filter(([n]) => inputs.has(n)));
}

/**
 * The hooks' metrics in one record. A key two hooks report as per-name records
 * (active ranks of different modules, say) is merged entry by entry, the later hook winning.
 */
export function mergeHookMetrics(hooks: readonly StepHook[]): Record<string, HookMetric> | undefined {
  const out: Record<string, HookMetric> = {};
  for (const h of hooks) {
    for (const [k, v] of Object.entries(h.metrics?.() ?? {})) {
      const prev = out[k];
      out[k] = isRecord(prev) && isRecord(v) ? { ...prev, ...v } : v;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

function isRecord(v: HookMetric | undefined): v is Readonly<Record<string, number>> {
  return typeof v === 'object' && !Array.isArray(v);
}
