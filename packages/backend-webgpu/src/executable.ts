import * as tf from '@tensorflow/tfjs-core';
import {
  SignatureError,
  UnsupportedOpError,
  getOp,
  planMemory,
  shapesEqual,
  type CompileReport,
  type DType,
  type Executable,
  type Graph,
  type HostTensor,
  type MemoryPlan,
  type ParameterValue,
  type Signature,
  resolveParameterValue,
} from '@lowrank/core';
import { download, upload } from './compile/dtypes.js';
import { lastUses, lowerGraph, type LoweredProgram } from './compile/lower.js';
import { downloadPackedU8, unpackU8, uploadPackedU8 } from './compile/packed-u8.js';
import { KERNELS, READS_PACKED_U8, type KernelContext } from './compile/primitive-kernels.js';
import { WebGpuDeviceError, WebGpuKernelError } from './errors.js';
import { takeDeviceErrors } from './gpu-setup.js';
import type { MemoryMeter } from './memory-meter.js';

export interface WebGpuCompileReport extends CompileReport {
  /** Kernel calls per run after composites were fused or expanded. */
  readonly steps: number;
  readonly fusedComposites: number;
  readonly expandedComposites: number;
  /** Nodes the remat pass recomputed (they run as separate kernels). */
  readonly recomputedOps: number;
  readonly adapter: string;
  /** The core memory planner's peak for this schedule (liveness, float32 sizes), to compare with measured bytes. */
  readonly plannedPeakBytes: number;
  readonly memory: MemoryPlan;
}

/**
 * A compiled graph on tfjs WebGPU: one kernel call per step, each intermediate
 * disposed right after its last use, parameters resident between runs.
 */
export class WebGpuExecutable implements Executable {
  readonly report: WebGpuCompileReport;
  private readonly program: LoweredProgram;
  private readonly lastUse: Int32Array;
  private readonly slotDtypes: DType[];
  private readonly slotShapes: (readonly number[])[];
  private readonly outputs: readonly string[];
  private readonly updates: readonly (readonly [string, string])[];
  private readonly params = new Map<string, tf.Tensor>();
  /** Resident u8 parameters stored four bytes to a word (see compile/packed-u8.ts). */
  private readonly packedParams = new Set<string>();
  private readonly constants = new Map<number, tf.Tensor>();
  private disposed = false;

  constructor(
    private readonly graph: Graph,
    signature: Signature,
    fusedOps: ReadonlySet<string>,
    private readonly meter: MemoryMeter,
    adapter: string,
    private readonly onDispose: (e: WebGpuExecutable) => void,
  ) {
    const t0 = performance.now();
    this.outputs = signature.outputs ?? [...graph.outputs.keys()];
    for (const o of this.outputs) if (!graph.outputs.has(o)) throw new SignatureError(`graph has no output '${o}'; outputs: ${[...graph.outputs.keys()].join(', ')}`);
    this.updates = Object.entries(signature.updates ?? {});
    for (const [p, o] of this.updates) {
      if (!graph.params.has(p)) throw new SignatureError(`update target '${p}' is not a parameter of the graph`);
      if (!graph.outputs.has(o)) throw new SignatureError(`update source '${o}' is not an output of the graph`);
      const info = graph.params.get(p)!;
      const src = graph.node(graph.outputs.get(o)!);
      if (!shapesEqual(info.shape, src.shape) || info.dtype !== src.dtype) {
        throw new SignatureError(`update of '${p}' (${info.dtype}[${info.shape.join(', ')}]) from '${o}' (${src.dtype}[${src.shape.join(', ')}]) changes its shape or dtype`);
      }
    }
    const roots = [...new Set([...this.outputs, ...this.updates.map(([, o]) => o)])].map((o) => graph.outputs.get(o)!);
    this.program = lowerGraph(graph, roots, fusedOps);
    for (const s of this.program.steps) if (!KERNELS[s.op]) throw new UnsupportedOpError('webgpu', s.op, `node ${s.node}`);
    this.lastUse = lastUses(this.program);
    this.slotDtypes = new Array<DType>(this.program.slotCount);
    this.slotShapes = new Array<readonly number[]>(this.program.slotCount);
    for (const l of this.program.leaves) [this.slotDtypes[l.slot], this.slotShapes[l.slot]] = [l.node.dtype, l.node.shape];
    for (const s of this.program.steps) [this.slotDtypes[s.out], this.slotShapes[s.out]] = [s.dtype, s.shape];
    // Constants are uploaded once and live as long as the executable.
    for (const leaf of this.program.leaves) {
      if (leaf.kind !== 'source') continue;
      const value = getOp(leaf.node.op).reference!([], leaf.node.attrs);
      this.constants.set(leaf.slot, upload({ shape: value.shape, dtype: leaf.node.dtype, data: value.toHost() }));
    }
    const memory = planMemory(graph, roots);
    this.report = {
      backend: 'webgpu',
      nodes: graph.size,
      compileMs: performance.now() - t0,
      steps: this.program.steps.length,
      fusedComposites: this.program.fused,
      expandedComposites: this.program.expanded,
      recomputedOps: graph.nodeIds().filter((id) => graph.node(id).recomputeOf !== undefined).length,
      adapter,
      plannedPeakBytes: memory.plannedPeakBytes,
      memory,
    };
  }

  /**
   * Uploads per tensor: a lazy value is read, uploaded (bf16/f16 upcast to f32
   * on the way) and its host copy dropped before the next is read, so the host
   * never holds more than one tensor of the model.
   */
  async setParameters(values: Readonly<Record<string, ParameterValue>>): Promise<void> {
    this.assertLive();
    for (const [name, t] of Object.entries(values)) {
      const info = this.graph.params.get(name);
      if (!info) throw new SignatureError(`'${name}' is not a parameter of this graph; parameters: ${[...this.graph.params.keys()].join(', ')}`);
      if (!shapesEqual(info.shape, t.shape)) throw new SignatureError(`parameter '${name}' has shape [${info.shape.join(', ')}], got [${t.shape.join(', ')}]`);
      if (t.dtype !== info.dtype) throw new SignatureError(`parameter '${name}' is ${info.dtype}, got ${t.dtype}`);
    }
    for (const [name, v] of Object.entries(values)) {
      const t = await resolveParameterValue(v);
      this.params.get(name)?.dispose();
      const pack = t.dtype === 'u8';
      this.params.set(name, pack ? uploadPackedU8(t) : upload(t));
      if (pack) this.packedParams.add(name);
      else this.packedParams.delete(name);
    }
    this.meter.sample();
  }

  async getParameters(names?: readonly string[]): Promise<Record<string, HostTensor>> {
    this.assertLive();
    const out: Record<string, HostTensor> = {};
    for (const n of names ?? [...this.params.keys()]) {
      const t = this.params.get(n);
      if (!t) throw new SignatureError(`parameter '${n}' has no value on this executable; call setParameters first`);
      const info = this.graph.params.get(n)!;
      out[n] = this.packedParams.has(n) ? await downloadPackedU8(t, info.shape) : await download(t, info.dtype);
    }
    return out;
  }

  async run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>> {
    this.assertLive();
    const { steps, slotCount } = this.program;
    const slots = new Array<tf.Tensor | undefined>(slotCount);
    // Slots this run must not dispose: resident parameters and constants.
    const pinned = new Uint8Array(slotCount);
    const keep = new Uint8Array(slotCount);
    // Slots holding packed u8 words (resident u8 parameters).
    const packed = new Uint8Array(slotCount);
    for (const o of this.outputs) keep[this.program.slotOf.get(this.graph.outputs.get(o)!)!] = 1;
    for (const [, o] of this.updates) keep[this.program.slotOf.get(this.graph.outputs.get(o)!)!] = 1;
    const release = (slot: number) => {
      if (pinned[slot] || keep[slot]) return;
      slots[slot]?.dispose();
      slots[slot] = undefined;
    };
    takeDeviceErrors(); // errors from before this run are not its own
    try {
      this.bindLeaves(feeds, slots, pinned, packed);
      for (let i = 0; i < steps.length; i++) {
        const s = steps[i];
        const readsPacked = READS_PACKED_U8[s.op] ?? [];
        const packedInputs = s.inputs.map((k, p) => packed[k] === 1 && readsPacked.includes(p));
        const ctx: KernelContext = { inputDtypes: s.inputs.map((k) => this.slotDtypes[k]), dtype: s.dtype, shape: s.shape, packedInputs };
        let y: tf.Tensor;
        try {
          y = tf.tidy(() => {
            // Other kernels read a packed u8 value through a temporary unpacked copy (tidy frees it).
            const xs = s.inputs.map((k, p) => (packed[k] && !packedInputs[p] ? unpackU8(slots[k]!, this.slotShapes[k]) : slots[k]!));
            return KERNELS[s.op](xs, s.attrs, ctx);
          });
        } catch (e) {
          throw new WebGpuKernelError(s.op, s.node, this.graph.node(s.node).modulePath, s.inputs.map((k) => this.slotShapes[k]), e);
        }
        // A kernel that hands back an input (an identity) must not share its tensor object:
        // each slot is disposed on its own schedule.
        slots[s.out] = s.inputs.some((k) => slots[k] === y) ? tf.clone(y) : y;
        this.meter.sample();
        for (const k of s.inputs) if (this.lastUse[k] === i) release(k);
        if (this.lastUse[s.out] === -1) release(s.out);
      }
      const result: Record<string, HostTensor> = {};
      for (const o of this.outputs) {
        const id = this.graph.outputs.get(o)!;
        const slot = this.program.slotOf.get(id)!;
        const n = this.graph.node(id);
        result[o] = packed[slot] ? await downloadPackedU8(slots[slot]!, n.shape) : await download(slots[slot]!, n.dtype);
      }
      if (this.outputs.length === 0) await drainQueue();
      // Downloads waited for the queue, so the device has reported any error of this run by now.
      const errors = takeDeviceErrors();
      if (errors.length) throw new WebGpuDeviceError(errors);
      this.applyUpdates(slots, pinned, packed);
      return result;
    } finally {
      // Whatever is left (outputs, feeds never read, everything after an error) goes now.
      for (let k = 0; k < slotCount; k++) if (!pinned[k]) slots[k]?.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.params.values()) t.dispose();
    for (const t of this.constants.values()) t.dispose();
    this.params.clear();
    this.packedParams.clear();
    this.constants.clear();
    this.onDispose(this);
  }

  private bindLeaves(feeds: Readonly<Record<string, HostTensor>>, slots: (tf.Tensor | undefined)[], pinned: Uint8Array, packed: Uint8Array): void {
    for (const name of Object.keys(feeds)) {
      if (!this.graph.inputs.has(name) && !this.graph.params.has(name)) {
        throw new SignatureError(`feed '${name}' is not an input or parameter of this graph; inputs: ${[...this.graph.inputs.keys()].join(', ')}`);
      }
    }
    for (const leaf of this.program.leaves) {
      if (leaf.kind === 'source') {
        slots[leaf.slot] = this.constants.get(leaf.slot);
        pinned[leaf.slot] = 1;
        continue;
      }
      const fed = feeds[leaf.name];
      const n = leaf.node;
      if (fed) {
        if (!shapesEqual(fed.shape, n.shape)) throw new SignatureError(`${leaf.kind} '${leaf.name}' expects shape [${n.shape.join(', ')}], got [${fed.shape.join(', ')}]`);
        if (fed.dtype !== n.dtype) throw new SignatureError(`${leaf.kind} '${leaf.name}' expects dtype ${n.dtype}, got ${fed.dtype}`);
        slots[leaf.slot] = upload(fed);
        continue;
      }
      const resident = leaf.kind === 'param' ? this.params.get(leaf.name) : undefined;
      if (!resident) {
        throw new SignatureError(
          `no value for ${leaf.kind} '${leaf.name}' (${n.dtype}[${n.shape.join(', ')}]): ` +
            (leaf.kind === 'param' ? 'call setParameters or feed it' : 'add it to the feeds'),
        );
      }
      slots[leaf.slot] = resident;
      pinned[leaf.slot] = 1;
      if (this.packedParams.has(leaf.name)) packed[leaf.slot] = 1;
    }
  }

  /** New parameter values take over their output's tensor (cloned when it is shared or pinned). */
  private applyUpdates(slots: (tf.Tensor | undefined)[], pinned: Uint8Array, packed: Uint8Array): void {
    const taken = new Set<number>();
    const next = new Map<string, { tensor: tf.Tensor; packed: boolean }>();
    for (const [p, o] of this.updates) {
      const slot = this.program.slotOf.get(this.graph.outputs.get(o)!)!;
      const shared = taken.has(slot) || pinned[slot] === 1;
      next.set(p, { tensor: shared ? tf.clone(slots[slot]!) : slots[slot]!, packed: packed[slot] === 1 });
      if (!shared) {
        taken.add(slot);
        slots[slot] = undefined;
      }
    }
    for (const [p, v] of next) {
      this.params.get(p)?.dispose();
      this.params.set(p, v.tensor);
      if (v.packed) this.packedParams.add(p);
      else this.packedParams.delete(p);
    }
  }

  private assertLive(): void {
    if (this.disposed) throw new SignatureError('this executable was disposed; compile the graph again');
  }
}

/** Submits tfjs's pending commands and waits for the GPU to finish them (when no download does it). */
async function drainQueue(): Promise<void> {
  const b = tf.backend() as unknown as { commandEncoder?: unknown; endComputePassEncoder?: () => void; submitQueue?: () => void; device?: GPUDevice };
  if (b.commandEncoder) {
    b.endComputePassEncoder?.();
    b.submitQueue?.();
  }
  await b.device?.queue.onSubmittedWorkDone();
}
