import type { Backend, Executable, HostTensor } from '@lowrank/core';
import type { LanguageModel } from '../architectures/index.js';
import { GenerationError } from './errors.js';
import { copySlots } from './host-cache.js';
import { cacheParamName, stepGraph, type CacheResidency, type StepGraph } from './step-graph.js';

export type WeightSource = ReadonlyMap<string, HostTensor>;

/**
 * Parameter values and the context the step graphs are traced in: the caller's
 * weights as they are, or variants' `foldAdapters` (adapters folded into W, and
 * a trace under which the model skips those adapters' path).
 */
export interface TracedWeights {
  readonly weights: WeightSource;
  trace<T>(fn: () => T): T;
}

/** The compiled prefill (S = chunk) and decode (S = 1) steps for one batch size and cache length. */
export class StepRunner {
  private constructor(
    readonly batch: number,
    readonly length: number,
    readonly chunk: number,
    readonly residency: CacheResidency,
    readonly prefill: Executable,
    readonly decode: Executable,
    private readonly cacheNames: readonly string[],
    /** Inputs each step graph declares: its own (ids, positions, slots...) and any the model reads (adapter rank masks). */
    private readonly inputNames: { readonly prefill: ReadonlySet<string>; readonly decode: ReadonlySet<string> },
  ) {}

  static async create(
    model: LanguageModel,
    weights: TracedWeights,
    backend: Backend,
    shape: { batch: number; length: number; chunk: number; residency: CacheResidency },
  ): Promise<StepRunner> {
    const { batch, length, chunk, residency } = shape;
    const inputNames = { prefill: new Set<string>(), decode: new Set<string>() };
    const build = async (tokens: number, which: 'prefill' | 'decode'): Promise<Executable> => {
      const step = weights.trace(() => stepGraph(model, { batch, tokens, length, residency }));
      for (const name of step.graph.inputs.keys()) inputNames[which].add(name);
      const exe = await backend.compile(step.graph, { outputs: step.outputs, updates: step.updates });
      await exe.setParameters(initialValues(step, weights.weights));
      return exe;
    };
    const prefill = await build(chunk, 'prefill');
    const decode = await build(1, 'decode');
    const { layers } = model.cacheLayout();
    const names = residency === 'backend' ? Array.from({ length: layers }, (_, i) => [cacheParamName(i, 'k'), cacheParamName(i, 'v')]).flat() : [];
    return new StepRunner(batch, length, chunk, residency, prefill, decode, names, inputNames);
  }

  /** The caller's extra feeds that one step graph declares (a hook may offer feeds a given model never reads). */
  declared(feeds: Readonly<Record<string, HostTensor>>, step: 'prefill' | 'decode'): Record<string, HostTensor> {
    return Object.fromEntries(Object.entries(feeds).filter(([name]) => this.inputNames[step].has(name)));
  }

  /** 'backend' residency: the decode step continues from the cache the prefill step wrote (one copy per generation). */
  async handOver(): Promise<void> {
    if (this.cacheNames.length > 0) await this.decode.setParameters(await this.prefill.getParameters(this.cacheNames));
  }

  /** 'backend' residency: moves this runner's decode cache into a longer runner's decode cache. */
  async moveCacheTo(next: StepRunner, kvHeads: number, headDim: number): Promise<void> {
    if (this.cacheNames.length === 0) return;
    const held = await this.decode.getParameters(this.cacheNames);
    const moved: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(held)) {
      const data = new Float32Array(this.batch * kvHeads * next.length * headDim);
      copySlots(t.data as Float32Array, data, this.batch * kvHeads, this.length, next.length, headDim);
      moved[name] = { shape: [this.batch, kvHeads, next.length, headDim], dtype: 'f32', data };
    }
    await next.decode.setParameters(moved);
  }

  dispose(): void {
    this.prefill.dispose();
    this.decode.dispose();
  }
}

/** Model weights for the graph's parameters, and zeros for its cache state. */
function initialValues(step: StepGraph, weights: WeightSource): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, info] of step.graph.params) {
    if (name in step.updates) {
      out[name] = { shape: [...info.shape], dtype: 'f32', data: new Float32Array(info.shape.reduce((a, b) => a * b, 1)) };
      continue;
    }
    const w = weights.get(name);
    if (!w) throw new GenerationError(`no weight for parameter '${name}'; pass the weights loadModel or createPreset returned`);
    out[name] = w;
  }
  return out;
}
