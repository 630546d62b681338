import type { Backend, HostTensor } from '@lowrank/core';
import type { LanguageModel } from '../architectures/index.js';
import { BatchLayout, chunkStarts, lengthBuckets } from './batch-layout.js';
import { GenerationError } from './errors.js';
import { HostCache } from './host-cache.js';
import { sampleToken, seededUniform, validateSampling, type SamplingOptions } from './sampling.js';
import type { CacheResidency } from './step-graph.js';
import { StepRunner, type TracedWeights } from './step-runner.js';

export { GenerationError };

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** A row ends after emitting one of these (it is included in its output). */
  stopTokens?: readonly number[];
  /** Row i of a batch samples from the stream seeded with seed + i (so a batch matches its prompts run one by one with those seeds). */
  seed?: number;
  /**
   * Extra graph inputs fed to every step (an adapter's rank mask, as a DyLoRA hook's evalFeeds gives);
   * names the step graphs do not declare are left out.
   */
  feeds?: Readonly<Record<string, HostTensor>>;
}

export interface GenerateResult {
  /** The new tokens only. */
  tokens: number[];
  stopReason: 'stop' | 'length';
}

export interface GeneratorOptions {
  backend: Backend;
  /** Cache length L: the longest prompt plus new tokens never exceed it. */
  maxLength: number;
  /** Tokens per prefill run (longer prompts run in chunks). Default min(maxLength, 64). */
  prefillLength?: number;
  /** Smallest cache length bucket; decode graphs are compiled per power-of-two bucket up to maxLength. Default 128. */
  minBucket?: number;
  /** Where the cache lives between steps. Default 'backend' on WebGPU (device-resident state), else 'host' (fed by reference). */
  residency?: CacheResidency;
  /** Rows of the runner compiled by create (the first bucket), so the first call's batch size pays no compilation. Default 1. */
  warmBatch?: number;
  /**
   * Generate from these weights instead, tracing every step graph inside their `trace`:
   * variants' `foldAdapters(model, weights)`, adapters folded into the weights they adapt,
   * decode at the merged model's speed for one f32 copy of each folded weight. Default: the
   * adapters' low-rank path runs in every step (no extra memory).
   */
  folded?: TracedWeights;
}

/** Figures of the last generate call, for benchmarks. */
export interface GenerationTiming {
  prefillMs: number;
  decodeMs: number;
  decodeSteps: number;
}

/**
 * Autoregressive generation with a static, resident KV cache. Per batch size
 * and cache length bucket there is one prefill executable (a chunk of tokens per
 * run) and one decode executable (one token per row per run), compiled on first
 * use; no token recompiles. Attention reads the cache as it was plus the step's
 * own keys and values, so no step copies the cache (see step-graph.ts for where
 * it lives).
 */
export class Generator {
  private readonly runners = new Map<string, Promise<StepRunner>>();
  private queue: Promise<void> = Promise.resolve();
  readonly buckets: readonly number[];
  readonly residency: CacheResidency;
  lastTiming: GenerationTiming = { prefillMs: 0, decodeMs: 0, decodeSteps: 0 };

  private constructor(
    readonly model: LanguageModel,
    private readonly weights: TracedWeights,
    private readonly backend: Backend,
    readonly maxLength: number,
    readonly prefillLength: number,
    minBucket: number,
    residency: CacheResidency,
  ) {
    this.buckets = lengthBuckets(Math.max(minBucket, prefillLength), maxLength);
    this.residency = residency;
  }

  static async create(model: LanguageModel, weights: ReadonlyMap<string, HostTensor>, opts: GeneratorOptions): Promise<Generator> {
    if (!model.supportsCache) throw new GenerationError(`${model.constructor.name} has no KV cache path; use generateWithoutCache`);
    const { maxPositions } = model.cacheLayout();
    if (!(Number.isInteger(opts.maxLength) && opts.maxLength >= 2 && opts.maxLength <= maxPositions)) {
      throw new GenerationError(`maxLength must be an integer in [2, ${maxPositions}] (the model's positions), got ${opts.maxLength}`);
    }
    const prefillLength = Math.min(opts.prefillLength ?? 64, opts.maxLength);
    if (!(Number.isInteger(prefillLength) && prefillLength >= 1)) throw new GenerationError(`prefillLength must be a positive integer, got ${opts.prefillLength}`);
    const residency = opts.residency ?? (opts.backend.name === 'webgpu' ? 'backend' : 'host');
    const warmBatch = opts.warmBatch ?? 1;
    if (!(Number.isInteger(warmBatch) && warmBatch >= 1)) throw new GenerationError(`warmBatch must be a positive integer, got ${opts.warmBatch}`);
    const traced = opts.folded ?? { weights, trace: <T>(fn: () => T): T => fn() };
    const gen = new Generator(model, traced, opts.backend, opts.maxLength, prefillLength, opts.minBucket ?? 128, residency);
    // Compile the first bucket's runner for the expected batch now (setup cost outside the first call).
    await gen.runner(warmBatch, gen.buckets[0]);
    return gen;
  }

  private runner(batch: number, length: number): Promise<StepRunner> {
    const key = `${batch}x${length}`;
    let r = this.runners.get(key);
    if (!r) {
      r = StepRunner.create(this.model, this.weights, this.backend, { batch, length, chunk: Math.min(this.prefillLength, length), residency: this.residency });
      this.runners.set(key, r);
      r.catch(() => this.runners.delete(key));
    }
    return r;
  }

  /** Decode executables compiled so far: one per (batch size, length bucket) used, each with its prefill twin. */
  get decodeGraphs(): number {
    return this.runners.size;
  }

  private bucketFor(slots: number): number {
    const b = this.buckets.find((l) => l >= slots);
    if (b === undefined) throw new GenerationError(`${slots} cache slots needed, maxLength is ${this.maxLength}`);
    return b;
  }

  async generate(prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
    return (await this.generateBatch([prompt], opts))[0];
  }

  /**
   * Generates for several prompts at once (left-padded to the longest, each
   * row stopping on its own). Every row gets at most min(maxNewTokens,
   * maxLength - longest prompt) tokens.
   */
  generateBatch(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateResult[]> {
    // One call at a time: with 'backend' residency the cache is state shared by every call.
    const run = this.queue.then(() => this.runBatch(prompts, opts));
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async runBatch(prompts: readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateResult[]> {
    validateSampling(opts);
    if (prompts.length === 0) throw new GenerationError('no prompts given; pass at least one');
    prompts.forEach((p, i) => {
      if (p.length === 0) throw new GenerationError(`prompt ${i} is empty; start it with a BOS token`);
    });
    const layout = new BatchLayout(prompts);
    const N = layout.promptSlots;
    if (N >= this.maxLength) throw new GenerationError(`the longest prompt has ${N} tokens; the cache holds ${this.maxLength}, leaving no room to generate`);
    const budget = Math.min(opts.maxNewTokens, this.maxLength - N);
    const B = layout.batch;
    const { layers, kvHeads, headDim } = this.model.cacheLayout();
    const streams = Array.from({ length: B }, (_, b) => seededUniform((opts.seed ?? 0) + b));
    const stops = new Set(opts.stopTokens ?? []);
    const results: GenerateResult[] = Array.from({ length: B }, () => ({ tokens: [], stopReason: 'length' }));
    const done = new Array<boolean>(B).fill(false);

    const t0 = performance.now();
    let runner = await this.runner(B, this.bucketFor(Math.max(N + 1, Math.min(this.prefillLength, this.maxLength))));
    let host = this.residency === 'host' ? new HostCache(layers, B, kvHeads, headDim, runner.length) : undefined;
    const extra = opts.feeds ?? {};
    let logits = await this.prefill(runner, layout, host, extra);
    await runner.handOver();
    const t1 = performance.now();
    let steps = 0;
    for (let produced = 0; ; produced++) {
      const next = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        if (done[b]) continue;
        const tok = sampleToken(rowOf(logits, b), opts, streams[b]);
        next[b] = tok;
        results[b].tokens.push(tok);
        if (stops.has(tok)) {
          done[b] = true;
          results[b].stopReason = 'stop';
        }
      }
      if (produced + 1 >= budget || done.every(Boolean)) break;
      const slot = N + produced;
      if (slot >= runner.length) {
        const longer = await this.runner(B, this.bucketFor(slot + 1));
        if (host) host = host.grown(longer.length);
        else await runner.moveCacheTo(longer, kvHeads, headDim);
        runner = longer;
      }
      const feeds = { ...runner.declared(extra, 'decode'), ...layout.feeds(slot, 1, (b) => next[b]), ...(host ? host.feeds() : {}) };
      const out = await runner.decode.run(feeds);
      host?.absorb(out, slot);
      logits = out.logits;
      steps++;
    }
    this.lastTiming = { prefillMs: t1 - t0, decodeMs: performance.now() - t1, decodeSteps: steps };
    return results;
  }

  /** Runs the prompts through the cache in chunks; returns the logits [B, V] of the last prompt slot. */
  private async prefill(runner: StepRunner, layout: BatchLayout, host: HostCache | undefined, extra: Readonly<Record<string, HostTensor>>): Promise<HostTensor> {
    const N = layout.promptSlots;
    const P = runner.chunk;
    let logits: HostTensor | undefined;
    for (const first of chunkStarts(N, P)) {
      const last: HostTensor = { shape: [1], dtype: 'i32', data: Int32Array.of(Math.min(N, first + P) - 1 - first) };
      const out = await runner.prefill.run({ ...runner.declared(extra, 'prefill'), ...layout.feeds(first, P, (b, slot) => layout.tokenAt(b, slot)), last, ...(host ? host.feeds() : {}) });
      host?.absorb(out, first);
      logits = out.logits;
    }
    return logits!;
  }

  dispose(): void {
    for (const r of this.runners.values()) r.then((x) => x.dispose(), () => {});
    this.runners.clear();
  }
}

function rowOf(logits: HostTensor, row: number): Float32Array {
  const v = logits.shape[1];
  return (logits.data as Float32Array).subarray(row * v, (row + 1) * v);
}
