// The generator as it was before issue 17 (commit 62df994): the whole cache fed from
// JavaScript each step and written in-graph by a one-hot product. Kept only as
// the bench's same-run baseline for the decode speed-up.
import { Graph, LowrankError, type Backend, type Executable, type HostTensor } from '@lowrank/core';
import { sampleToken, seededUniform, type LanguageModel, type LayerKv, type SamplingOptions } from '@lowrank/models';

class GenerationError extends LowrankError {}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Generation ends after emitting one of these (it is included in the output). */
  stopTokens?: readonly number[];
  seed?: number;
}

export interface GenerateResult {
  /** The new tokens only. */
  tokens: number[];
  stopReason: 'stop' | 'length';
}

export interface GeneratorOptions {
  backend: Backend;
  /** Cache length L: prompt plus new tokens never exceed it. */
  maxLength: number;
  /** Tokens per prefill run (prompts are padded to it, longer ones run in chunks). Default min(maxLength, 64). */
  prefillLength?: number;
}

const pastName = (i: number, kv: 'k' | 'v') => `past.${i}.${kv}`;
const newName = (i: number, kv: 'k' | 'v') => `new.${i}.${kv}`;

/**
 * One step graph: S tokens at given positions attend over a length-L cache
 * with their own keys and values written in. It returns only those new keys
 * and values [1, KV, S, D]; the host writes them into its copy of the cache,
 * which is far cheaper than returning the whole cache every token.
 */
function stepGraph(model: LanguageModel, tokens: number, maxLength: number): Graph {
  const { layers, kvHeads, headDim } = model.cacheLayout();
  const g = new Graph();
  const inputIds = g.input('input_ids', [1, tokens], 'i32');
  const positions = g.input('positions', [tokens], 'i32');
  const cache: LayerKv[] = [];
  for (let i = 0; i < layers; i++) {
    cache.push({ k: g.input(pastName(i, 'k'), [1, kvHeads, maxLength, headDim]), v: g.input(pastName(i, 'v'), [1, kvHeads, maxLength, headDim]) });
  }
  const out = model.forward({ inputIds, positions, cache });
  g.output('logits', out.logits);
  out.cache!.forEach((kv, i) => {
    g.output(newName(i, 'k'), kv.newK);
    g.output(newName(i, 'v'), kv.newV);
  });
  return g;
}

function paramFeeds(graph: Graph, weights: ReadonlyMap<string, HostTensor>): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const name of graph.params.keys()) {
    const w = weights.get(name);
    if (!w) throw new GenerationError(`no weight for parameter '${name}'; pass the weights loadModel or createPreset returned`);
    out[name] = w;
  }
  return out;
}

/**
 * Autoregressive generation with a static KV cache: one prefill executable
 * and one single-token decode executable, compiled once, so no token
 * recompiles. The cache is an input of fixed shape [1, KV, L, D] per layer
 * (`past.N.k`, `past.N.v`), positions are an input, and the mask hiding
 * unused slots is derived from them inside the graph.
 */
export class PreviousGenerator {
  private constructor(
    readonly model: LanguageModel,
    readonly maxLength: number,
    readonly prefillLength: number,
    private readonly prefill: Executable,
    private readonly decode: Executable,
  ) {}

  static async create(model: LanguageModel, weights: ReadonlyMap<string, HostTensor>, opts: GeneratorOptions): Promise<PreviousGenerator> {
    if (!model.supportsCache) throw new GenerationError(`${model.constructor.name} has no KV cache path; use generateWithoutCache`);
    const { maxPositions } = model.cacheLayout();
    if (!(Number.isInteger(opts.maxLength) && opts.maxLength >= 2 && opts.maxLength <= maxPositions)) {
      throw new GenerationError(`maxLength must be an integer in [2, ${maxPositions}] (the model's positions), got ${opts.maxLength}`);
    }
    const prefillLength = Math.min(opts.prefillLength ?? 64, opts.maxLength);
    const prefillGraph = stepGraph(model, prefillLength, opts.maxLength);
    const decodeGraph = stepGraph(model, 1, opts.maxLength);
    const prefill = await opts.backend.compile(prefillGraph);
    const decode = await opts.backend.compile(decodeGraph);
    await prefill.setParameters(paramFeeds(prefillGraph, weights));
    await decode.setParameters(paramFeeds(decodeGraph, weights));
    return new PreviousGenerator(model, opts.maxLength, prefillLength, prefill, decode);
  }

  private emptyCache(): Record<string, HostTensor> {
    const { layers, kvHeads, headDim } = this.model.cacheLayout();
    const shape = [1, kvHeads, this.maxLength, headDim];
    const out: Record<string, HostTensor> = {};
    for (let i = 0; i < layers; i++) {
      for (const kv of ['k', 'v'] as const) out[pastName(i, kv)] = { shape, dtype: 'f32', data: new Float32Array(this.maxLength * kvHeads * headDim) };
    }
    return out;
  }

  /** Writes a step's new keys/values [1, KV, S, D] into the host cache at the step's positions. */
  private writeCache(cache: Record<string, HostTensor>, out: Record<string, HostTensor>, positions: Int32Array): void {
    const { layers, kvHeads, headDim } = this.model.cacheLayout();
    const S = positions.length;
    const L = this.maxLength;
    for (let i = 0; i < layers; i++) {
      for (const kv of ['k', 'v'] as const) {
        const dst = cache[pastName(i, kv)].data as Float32Array;
        const src = out[newName(i, kv)].data as Float32Array;
        for (let h = 0; h < kvHeads; h++) {
          for (let j = 0; j < S; j++) {
            const from = (h * S + j) * headDim;
            dst.set(src.subarray(from, from + headDim), (h * L + positions[j]) * headDim);
          }
        }
      }
    }
  }

  /** Runs the prompt through the cache; returns the logits row of its last token and the cache. */
  private async runPrompt(prompt: readonly number[]): Promise<{ last: Float32Array; cache: Record<string, HostTensor> }> {
    const P = this.prefillLength;
    const cache = this.emptyCache();
    let last = new Float32Array(0);
    for (let start = 0; start < prompt.length; start += P) {
      const chunk = prompt.slice(start, start + P);
      const ids = Int32Array.from({ length: P }, (_, j) => chunk[j] ?? 0);
      // Padding tokens take later positions (clamped to the cache), whose slots real tokens overwrite before reading.
      const positions = Int32Array.from({ length: P }, (_, j) => Math.min(start + j, this.maxLength - 1));
      const out = await this.prefill.run({ input_ids: { shape: [1, P], dtype: 'i32', data: ids }, positions: { shape: [P], dtype: 'i32', data: positions }, ...cache });
      this.writeCache(cache, out, positions);
      const v = out.logits.shape[2];
      const row = chunk.length - 1;
      last = Float32Array.from((out.logits.data as Float32Array).subarray(row * v, (row + 1) * v));
    }
    return { last, cache };
  }

  async generate(prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
    if (prompt.length === 0) throw new GenerationError('the prompt is empty; start it with a BOS token');
    if (prompt.length >= this.maxLength) throw new GenerationError(`the prompt has ${prompt.length} tokens; the cache holds ${this.maxLength}, leaving no room to generate`);
    const uniform = seededUniform(opts.seed ?? 0);
    const stops = new Set(opts.stopTokens ?? []);
    const budget = Math.min(opts.maxNewTokens, this.maxLength - prompt.length);
    const prompted = await this.runPrompt(prompt);
    const cache = prompted.cache;
    let last = prompted.last;
    const tokens: number[] = [];
    for (let pos = prompt.length; tokens.length < budget; pos++) {
      const next = sampleToken(last, opts, uniform);
      tokens.push(next);
      if (stops.has(next)) return { tokens, stopReason: 'stop' };
      if (tokens.length === budget || pos >= this.maxLength) break;
      const positions = Int32Array.of(pos);
      const out = await this.decode.run({ input_ids: { shape: [1, 1], dtype: 'i32', data: Int32Array.of(next) }, positions: { shape: [1], dtype: 'i32', data: positions }, ...cache });
      this.writeCache(cache, out, positions);
      last = Float32Array.from(out.logits.data as Float32Array);
    }
    return { tokens, stopReason: 'length' };
  }

  dispose(): void {
    this.prefill.dispose();
    this.decode.dispose();
  }
}
