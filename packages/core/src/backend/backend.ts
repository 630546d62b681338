import type { DType, HostData } from '../dtype.js';
import type { Graph } from '../graph/graph.js';
import type { Shape } from '../shape.js';
import type { MemoryPlan } from '../memory/planner.js';

/** A value crossing between the host and a backend. */
export interface HostTensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly data: HostData;
}

/**
 * A parameter value whose bytes stay where they are (a range of a safetensors
 * file, a temp file) until a backend asks for them. `file`, when present,
 * names bytes that are exactly the tensor's little-endian storage at `dtype`
 * (bf16/f16 as raw bits), so a backend that can map a file (ONNX Runtime's
 * external data) never reads them into JS; any other backend calls `read()`
 * once per tensor, uploads, and drops the host copy.
 */
export interface LazyHostTensor {
  readonly shape: Shape;
  readonly dtype: DType;
  read(): Promise<HostData>;
  readonly file?: { readonly path: string; readonly offset: number; readonly byteLength: number };
}

/** What `setParameters` accepts: values in memory, or lazy ones read (or mapped) by the backend. */
export type ParameterValue = HostTensor | LazyHostTensor;

export function isLazyHostTensor(v: ParameterValue): v is LazyHostTensor {
  return typeof (v as Partial<LazyHostTensor>).read === 'function' && !('data' in v);
}

/** The in-memory value of a parameter: a HostTensor as is, a lazy one read once. */
export async function resolveParameterValue(v: ParameterValue): Promise<HostTensor> {
  if (!isLazyHostTensor(v)) return v;
  return { shape: v.shape, dtype: v.dtype, data: await v.read() };
}

/** What a compiled executable takes and gives. */
export interface Signature {
  /** Named outputs of the graph to compute (default: all). */
  readonly outputs?: readonly string[];
  /**
   * State updates: after each run the parameter named by the key takes the
   * value of the output named by the value (an optimizer step inside the graph),
   * without the value leaving the device where the backend can avoid it.
   */
  readonly updates?: Readonly<Record<string, string>>;
}

export interface BackendCapabilities {
  readonly dtypes: readonly DType[];
  /** Primitive ops with a kernel. */
  readonly ops: ReadonlySet<string>;
  /** Composite ops the backend runs as one fused kernel instead of their expansion. */
  readonly fusedOps: ReadonlySet<string>;
  /** Parameters stay on the device between runs. */
  readonly residentParameters: boolean;
  /** Float results are float64 (the reference) rather than float32. */
  readonly float64: boolean;
}

export interface MemoryStats {
  /** Bytes the backend holds now. */
  readonly currentBytes: number;
  /** Highest bytes held since the last reset, where the backend can measure it. */
  readonly peakBytes: number;
  /** Live device tensors/buffers, where the backend counts them. */
  readonly liveTensors?: number;
}

export interface CompileReport {
  readonly backend: string;
  readonly nodes: number;
  readonly compileMs: number;
  /**
   * The memory planner's peak for the graph as compiled. Checkpointing is not
   * the backend's business: the caller rewrites the graph first (`compileCheckpointed`, the Trainer).
   */
  readonly plannedPeakBytes?: number;
  /** The memory planner's figures: planned peak, its split, FLOPs. */
  readonly memory?: MemoryPlan;
  /** Backend-specific figures. */
  readonly [extra: string]: unknown;
}

export interface Executable {
  readonly report: CompileReport;
  /**
   * Uploads parameter values once; they stay resident until replaced or disposed.
   * Lazy values are read (or mapped from their file) here; the executable keeps
   * no reference to the caller's host arrays of frozen parameters it has uploaded.
   */
  setParameters(values: Readonly<Record<string, ParameterValue>>): Promise<void>;
  /** Downloads the current values of parameters (default: all). */
  getParameters(names?: readonly string[]): Promise<Record<string, HostTensor>>;
  /** Runs the graph on the runtime inputs; parameters not fed come from residency. */
  run(feeds: Readonly<Record<string, HostTensor>>): Promise<Record<string, HostTensor>>;
  dispose(): void;
}

/** One execution engine. A backend package exports one factory returning this. */
export interface Backend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  compile(graph: Graph, signature?: Signature): Promise<Executable>;
  memoryStats(): MemoryStats;
  dispose(): void;
}
