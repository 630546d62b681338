import { availableParallelism } from 'node:os';
import { DTYPES, listOps, planMemory, SignatureError, type Backend, type Executable, type Graph, type MemoryStats, type Signature } from '@lowrank/core';
import { graphHash } from './graph-hash.js';
import { lowerGraph } from './lower/lower-graph.js';
import { fusedOps, loweredOps } from './lower/lowering-registry.js';
import { OrtExecutable } from './runtime/ort-executable.js';
import { DEFAULT_MAX_LIVE_BYTES, SessionCache } from './runtime/session-cache.js';
import { SpillArea } from './runtime/spill-area.js';
import type { ExecutionProviderConfig } from './runtime/session-options.js';

export interface OrtBackendOptions {
  /** Backend name in reports and errors ('cpu', 'cuda'). */
  readonly name: string;
  readonly executionProviders: NonNullable<ExecutionProviderConfig>;
  /** Intra-op threads; default one per core. */
  readonly threads?: number;
  /** Fused ONNX kernels for composites: true (default), false, or only the listed ops. */
  readonly fuse?: boolean | ReadonlySet<string>;
  /** Unused sessions kept warm (default 4). */
  readonly maxIdleSessions?: number;
  /** Initializer bytes above which a session loads from a file with external data (default 1.8 GiB). */
  readonly externalDataThresholdBytes?: number;
  /** Whether parameters stay on the device between runs (true where host memory is the device). */
  readonly residentParameters?: boolean;
  /** Writes each new session's ORT-optimized model here (for inspection; slows session creation). */
  readonly optimizedModelFilePath?: string;
  /** Gate recomputed segments on the backward pass so ORT cannot run them early (default true; false only to measure). */
  readonly orderRecompute?: boolean;
  /**
   * Weight bytes the live sessions may hold together (default 1 GiB). ORT cannot
   * share initializers between sessions, so past this a new session (an eval
   * graph, say) first releases the others, which are rebuilt on their next run.
   */
  readonly maxLiveSessionBytes?: number;
  /**
   * ORT's CPU memory arena (default true). Off, every intermediate goes through
   * malloc; on a 1.1B LoRA step glibc then kept freed blocks and the peak RSS
   * rose (3.78 -> 5.36 GB); with MALLOC_MMAP_THRESHOLD_=131072 in the process's
   * environment it fell to 3.48 GB but the step was 3.5x slower (bench/RESULTS.md).
   */
  readonly memoryArena?: boolean;
}

/** The ORT backend: a core Backend plus what its session cache did. */
export interface OrtBackend extends Backend {
  /** Session cache counters: hits (a compiled graph found a warm session), misses, sessions held. */
  sessionCacheStats(): { readonly hits: number; readonly misses: number; readonly sessions: number; readonly budgetEvictions: number };
}

/**
 * A core Backend on onnxruntime-node: each compiled graph is lowered to one
 * ONNX model and run as one native call. Shared by backend-cpu and backend-cuda.
 */
export function createOrtBackend(opts: OrtBackendOptions): OrtBackend {
  const spill = new SpillArea();
  const cache = new SessionCache(opts.maxIdleSessions ?? 4, opts.maxLiveSessionBytes ?? DEFAULT_MAX_LIVE_BYTES);
  const threads = opts.threads ?? availableParallelism();
  const fuse = opts.fuse ?? true;
  const executables = new Set<Executable>();
  let current = 0;
  let peak = 0;
  const track = (delta: number) => {
    current += delta;
    peak = Math.max(peak, current);
  };
  const supported = new Set(loweredOps().filter((op) => listOps('primitive').some((d) => d.name === op)));
  const fused = typeof fuse === 'boolean' ? (fuse ? fusedOps() : []) : fusedOps().filter((op) => fuse.has(op));
  const settings = {
    executionProviders: opts.executionProviders,
    threads,
    memoryArena: opts.memoryArena ?? true,
    ...(opts.optimizedModelFilePath ? { optimizedModelFilePath: opts.optimizedModelFilePath } : {}),
  };

  return {
    name: opts.name,
    capabilities: {
      dtypes: DTYPES,
      ops: supported,
      fusedOps: new Set(fused),
      residentParameters: opts.residentParameters ?? true,
      float64: false,
    },
    async compile(graph: Graph, signature: Signature = {}): Promise<Executable> {
      const t0 = performance.now();
      const outputs = signature.outputs ?? [...graph.outputs.keys()];
      for (const o of outputs) if (!graph.outputs.has(o)) throw new SignatureError(`graph has no output '${o}'; outputs: ${[...graph.outputs.keys()].join(', ')}`);
      const updates = signature.updates ?? {};
      for (const [p, o] of Object.entries(updates)) {
        if (!graph.params.has(p)) throw new SignatureError(`update target '${p}' is not a parameter of the graph`);
        if (!graph.outputs.has(o)) throw new SignatureError(`update source '${o}' is not an output of the graph`);
      }
      // A dry lowering (every parameter as an input) finds unsupported ops at compile time.
      const dry = lowerGraph(graph, { outputs, updates, inputParams: () => true, fuse, backend: opts.name, orderRecompute: opts.orderRecompute ?? true });
      const roots = [...new Set([...outputs, ...Object.values(updates)])].map((o) => graph.outputTensor(o).id);
      const key = graphHash(graph, roots, JSON.stringify({ outputs, updates, fuse: typeof fuse === 'boolean' ? fuse : [...fuse].sort(), threads, order: opts.orderRecompute ?? true }));
      const exe = new OrtExecutable(graph, key, signature, { backend: opts.name, cache, spill, settings, fuse, externalDataThresholdBytes: opts.externalDataThresholdBytes, orderRecompute: opts.orderRecompute ?? true, track }, {
        backend: opts.name,
        nodes: dry.coreNodes,
        compileMs: performance.now() - t0,
        onnxNodes: dry.model.graph.nodes.length,
        recomputedOnnxNodes: dry.recomputedOnnxNodes,
        recomputedOps: graph.nodeIds().filter((id) => graph.node(id).recomputeOf !== undefined).length,
        plannedPeakBytes: planMemory(graph, roots).plannedPeakBytes,
        threads,
      });
      executables.add(exe);
      const dispose = exe.dispose.bind(exe);
      exe.dispose = () => {
        executables.delete(exe);
        dispose();
      };
      return exe;
    },
    sessionCacheStats() {
      return { hits: cache.hits, misses: cache.misses, sessions: cache.size, budgetEvictions: cache.budgetEvictions };
    },
    memoryStats(): MemoryStats {
      return { currentBytes: current, peakBytes: peak, liveTensors: executables.size };
    },
    dispose() {
      for (const e of [...executables]) e.dispose();
      cache.clear();
      // Sessions read their external data when created; the spill file is not needed past disposal.
      spill.dispose();
    },
  };
}
