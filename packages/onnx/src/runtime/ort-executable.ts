import { isLazyHostTensor, SignatureError, type CompileReport, type DType, type Executable, type Graph, type HostTensor, type ParameterValue, type Signature } from '@lowrank/core';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { OrtRunError } from '../errors.js';
import { dataHash } from '../graph-hash.js';
import { isFileBacked, lowerGraph, type FrozenValue, type LoweredGraph } from '../lower/lower-graph.js';
import { frozenIdentity, readFileRange } from './frozen-values.js';
import type { SpillArea } from './spill-area.js';
import { createSession } from './create-session.js';
import { checkShape, fromOrtTensor, toOrtTensor } from './host-tensors.js';
import type { SessionCache } from './session-cache.js';
import type { SessionSettings } from './session-options.js';

export interface ExecutableContext {
  readonly backend: string;
  readonly cache: SessionCache;
  readonly settings: SessionSettings;
  readonly fuse: boolean | ReadonlySet<string>;
  readonly externalDataThresholdBytes?: number;
  readonly orderRecompute: boolean;
  /** Where frozen values that came without a file are written once, so JavaScript holds no copy. */
  readonly spill: SpillArea;
  /** Called with the byte change of host-held parameter state. */
  readonly track: (deltaBytes: number) => void;
}

const bytesOfHost = (t: HostTensor) => t.data.byteLength;
/** Lazy frozen values at least this large go to the spill file rather than staying in JavaScript. */
const SPILL_MIN_BYTES = 1 << 16;
/** Host bytes a frozen value keeps in JavaScript (a file-backed one keeps none). */
const hostBytesOf = (v: FrozenValue) => (isFileBacked(v) ? 0 : v.data.byteLength);

/**
 * A compiled graph on onnxruntime. Frozen parameters become initializers of
 * the session (built on the first run, rebuilt if one is replaced); trainable
 * parameters and updated state are kept host-side as ORT tensors, fed each run
 * and replaced by their update outputs.
 *
 * Frozen weights are held once: a lazy value with a file range (a checkpoint
 * tensor already at its storage dtype, a spilled 4-bit base) stays a file range
 * that ORT reads itself; host arrays are kept by reference, never copied.
 */
export class OrtExecutable implements Executable {
  readonly report: CompileReport;
  private readonly frozen = new Map<string, FrozenValue>();
  private readonly state = new Map<string, Tensor>();
  private session: { key: string; session: Promise<InferenceSession>; lowered: LoweredGraph } | undefined;
  private readonly outputs: readonly string[];
  private readonly updates: Readonly<Record<string, string>>;
  private readonly inputParams: ReadonlySet<string>;
  private disposed = false;

  constructor(
    private readonly graph: Graph,
    private readonly structureKey: string,
    signature: Signature,
    private readonly ctx: ExecutableContext,
    report: CompileReport,
  ) {
    this.outputs = signature.outputs ?? [...graph.outputs.keys()];
    this.updates = signature.updates ?? {};
    this.inputParams = new Set([...graph.params.values()].filter((p) => p.trainable || p.name in this.updates).map((p) => p.name));
    this.report = report;
  }

  async setParameters(values: Readonly<Record<string, ParameterValue>>): Promise<void> {
    this.assertLive();
    for (const [name, v] of Object.entries(values)) {
      const info = this.graph.params.get(name);
      if (!info) throw new SignatureError(`'${name}' is not a parameter of this graph; parameters: ${[...this.graph.params.keys()].join(', ')}`);
      checkShape(v, info.shape, `parameter '${name}'`);
      if (v.dtype !== info.dtype) throw new SignatureError(`parameter '${name}' expects dtype ${info.dtype}, got ${v.dtype}`);
    }
    for (const [name, v] of Object.entries(values)) {
      const info = this.graph.params.get(name)!;
      if (this.inputParams.has(name)) {
        const t = isLazyHostTensor(v) ? { shape: v.shape, dtype: v.dtype, data: await v.read() } : v;
        const prev = this.state.get(name);
        const next = toOrtTensor(t, info.dtype, `parameter '${name}'`, true);
        this.state.set(name, next);
        this.ctx.track(bytesOfHost(t) - (prev ? prev.size * 4 : 0));
      } else {
        // A lazy value with a file range is never read here; one without is read once and, when
        // large, written to the backend's spill file, so the session's copy is the only one.
        let value: FrozenValue = v as HostTensor;
        if (isLazyHostTensor(v)) {
          if (v.file) value = { shape: [...v.shape], dtype: v.dtype, file: v.file };
          else {
            const data = await v.read();
            value = data.byteLength >= SPILL_MIN_BYTES ? { shape: [...v.shape], dtype: v.dtype, file: this.ctx.spill.append(data) } : { shape: [...v.shape], dtype: v.dtype, data };
          }
        }
        const prev = this.frozen.get(name);
        this.frozen.set(name, value);
        this.ctx.track(hostBytesOf(value) - (prev ? hostBytesOf(prev) : 0));
        // New frozen values mean new initializers: the next run builds (or finds) another session.
        this.dropSession();
      }
    }
  }

  async getParameters(names?: readonly string[]): Promise<Record<string, HostTensor>> {
    this.assertLive();
    const out: Record<string, HostTensor> = {};
    for (const n of names ?? [...this.frozen.keys(), ...this.state.keys()]) {
      const info = this.graph.params.get(n);
      if (!info) throw new SignatureError(`'${n}' is not a parameter of this graph`);
      const s = this.state.get(n);
      const f = this.frozen.get(n);
      if (s) out[n] = fromOrtTensor(s, info.dtype, true);
      else if (f) out[n] = isFileBacked(f) ? { shape: [...f.shape], dtype: f.dtype, data: readFileRange(f.file, f.dtype) } : { shape: [...f.shape], dtype: f.dtype, data: f.data.slice() };
      else throw new SignatureError(`parameter '${n}' has no value on this executable; call setParameters first`);
    }
    return out;
  }

  async run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    this.assertLive();
    // A fed frozen parameter replaces its initializer (a new or cached session), as feeds override residency.
    const frozenFed = Object.keys(feeds).filter((n) => this.graph.params.has(n) && !this.inputParams.has(n));
    if (frozenFed.length > 0) await this.setParameters(Object.fromEntries(frozenFed.map((n) => [n, feeds[n]])));
    const { session, lowered } = this.ensureSession();
    const ortFeeds: Record<string, Tensor> = {};
    for (const name of lowered.inputs) {
      const fed = feeds[name];
      const info = this.graph.inputs.get(name) ?? this.graph.params.get(name)!;
      if (fed) {
        checkShape(fed, info.shape, `'${name}'`);
        ortFeeds[name] = toOrtTensor(fed, info.dtype, `'${name}'`);
        continue;
      }
      const held = this.state.get(name);
      if (!held) {
        const kind = this.graph.inputs.has(name) ? 'input' : 'parameter';
        throw new SignatureError(`no value for ${kind} '${name}' (${info.dtype}[${info.shape.join(', ')}]); feed it${kind === 'parameter' ? ' or call setParameters' : ''}`);
      }
      ortFeeds[name] = held;
    }
    const fetches = [...lowered.outputs.values()];
    let ready: InferenceSession;
    try {
      ready = await session;
    } catch (e) {
      this.session = undefined;
      throw e;
    }
    let results: InferenceSession.ReturnType;
    const holder = this.session!;
    this.ctx.cache.runStarted(holder.key);
    try {
      results = await ready.run(ortFeeds, fetches);
    } catch (e) {
      throw new OrtRunError(this.ctx.backend, e instanceof Error ? e.message : String(e), `graph '${lowered.model.graph.name}'`);
    } finally {
      this.ctx.cache.runEnded(holder.key, holder.session);
    }
    for (const [param, output] of Object.entries(this.updates)) {
      this.state.set(param, results[lowered.outputs.get(output)!]);
    }
    const out: Record<string, HostTensor> = {};
    const resident = new Set(Object.values(this.updates));
    for (const o of this.outputs) out[o] = fromOrtTensor(results[lowered.outputs.get(o)!], this.dtypeOf(o), resident.has(o));
    return out;
  }

  /** Lowers the graph and creates (or finds) its session now instead of on the first run. */
  async prepare(): Promise<void> {
    this.assertLive();
    const { session } = this.ensureSession();
    try {
      await session;
    } catch (e) {
      this.session = undefined;
      throw e;
    }
  }

  /** The ONNX model this executable runs (lowered with the current frozen values). */
  lowered(): LoweredGraph {
    return this.ensureSession().lowered;
  }

  dispose(): void {
    if (this.disposed) return;
    this.dropSession();
    let bytes = 0;
    for (const f of this.frozen.values()) bytes += hostBytesOf(f);
    for (const s of this.state.values()) bytes += s.size * 4;
    this.ctx.track(-bytes);
    this.frozen.clear();
    this.state.clear();
    this.disposed = true;
  }

  private dtypeOf(output: string): DType {
    return this.graph.outputTensor(output).dtype;
  }

  private ensureSession(): { session: Promise<InferenceSession>; lowered: LoweredGraph } {
    if (this.session) return this.session;
    const lowered = lowerGraph(this.graph, {
      outputs: this.outputs,
      updates: this.updates,
      inputParams: (n) => this.inputParams.has(n),
      paramValues: (n) => this.frozen.get(n),
      fuse: this.ctx.fuse,
      backend: this.ctx.backend,
      orderRecompute: this.ctx.orderRecompute,
    });
    const frozenKey = [...this.frozen.keys()]
      .filter((n) => lowered.model.graph.initializers.some((t) => t.name === n))
      .sort()
      .map((n) => `${n}:${frozenIdentity(this.frozen.get(n)!, dataHash)}`)
      .join(';');
    const key = `${this.structureKey}|${frozenKey}`;
    const holder = { key, session: undefined as unknown as Promise<InferenceSession>, lowered };
    // Evicted by the cache (another session needed its weight budget): the next run recreates it.
    const onEvict = () => {
      if (this.session === holder) this.session = undefined;
    };
    holder.session = this.ctx.cache.acquire(key, lowered.initializerBytes, () => createSession(lowered, this.ctx.settings, this.ctx.backend, this.ctx.externalDataThresholdBytes), onEvict);
    this.session = holder;
    return this.session;
  }

  private dropSession(): void {
    if (!this.session) return;
    this.ctx.cache.release(this.session.key);
    this.session = undefined;
  }

  private assertLive(): void {
    if (this.disposed) throw new SignatureError('this executable was disposed; compile the graph again');
  }
}
