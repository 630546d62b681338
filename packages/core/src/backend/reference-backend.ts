import { DTYPES } from '../dtype.js';
import { SignatureError } from '../errors.js';
import type { Graph } from '../graph/graph.js';
import { planMemory } from '../memory/planner.js';
import { listOps } from '../ops/registry.js';
import { evaluate } from '../reference/evaluate.js';
import { NDArray } from '../reference/ndarray.js';
import { numel, shapesEqual } from '../shape.js';
import { resolveParameterValue, type Backend, type Executable, type HostTensor, type MemoryStats, type Signature } from './backend.js';

/** Float64 host tensors for the reference backend (results keep float64 precision). */
function toNd(t: HostTensor): NDArray {
  return NDArray.fromHost(t.shape, t.dtype, t.data);
}

function toHost(a: NDArray, float64: boolean): HostTensor {
  return { shape: a.shape, dtype: a.dtype, data: float64 && a.dtype === 'f32' ? a.data.slice() : a.toHost() };
}

/**
 * The float64 reference evaluator behind the Backend interface: the oracle for
 * every other backend. Slow, exact, and always available.
 */
export function createReferenceBackend(opts: { float64Results?: boolean } = {}): Backend {
  const float64 = opts.float64Results ?? true;
  let live = 0;
  let peak = 0;
  const backend: Backend = {
    name: 'reference',
    capabilities: {
      dtypes: DTYPES,
      ops: new Set(listOps('primitive').map((d) => d.name)),
      fusedOps: new Set(listOps('composite').map((d) => d.name)),
      residentParameters: true,
      float64,
    },
    async compile(graph: Graph, signature: Signature = {}): Promise<Executable> {
      const t0 = performance.now();
      const outputs = signature.outputs ?? [...graph.outputs.keys()];
      for (const o of outputs) if (!graph.outputs.has(o)) throw new SignatureError(`graph has no output '${o}'`);
      const updates = signature.updates ?? {};
      for (const [p, o] of Object.entries(updates)) {
        if (!graph.params.has(p)) throw new SignatureError(`update target '${p}' is not a parameter of the graph`);
        if (!graph.outputs.has(o)) throw new SignatureError(`update source '${o}' is not an output of the graph`);
      }
      // The graph runs as given (a caller that checkpoints has rewritten it already); the planner's report comes with it.
      const want = [...new Set([...outputs, ...Object.values(updates)])];
      const memory = planMemory(graph, want, { fusedOps: backend.capabilities.fusedOps });
      const compiled = graph;
      const params = new Map<string, NDArray>();
      const bytes = () => [...params.values()].reduce((s, a) => s + numel(a.shape) * 8, 0);
      const exe: Executable = {
        report: {
          backend: 'reference',
          nodes: compiled.size,
          compileMs: performance.now() - t0,
          plannedPeakBytes: memory.plannedPeakBytes,
          memory,
        },
        async setParameters(values) {
          for (const [name, t] of Object.entries(values)) {
            const info = graph.params.get(name);
            if (!info) throw new SignatureError(`'${name}' is not a parameter of this graph; parameters: ${[...graph.params.keys()].join(', ')}`);
            if (!shapesEqual(info.shape, t.shape)) throw new SignatureError(`parameter '${name}' has shape [${info.shape.join(', ')}], got [${t.shape.join(', ')}]`);
            params.set(name, toNd(await resolveParameterValue(t)));
          }
          live = bytes();
          peak = Math.max(peak, live);
        },
        async getParameters(names) {
          const out: Record<string, HostTensor> = {};
          for (const n of names ?? [...params.keys()]) {
            const v = params.get(n);
            if (!v) throw new SignatureError(`parameter '${n}' has no value on this executable; call setParameters first`);
            out[n] = toHost(v, float64);
          }
          return out;
        },
        async run(feeds) {
          const all: Record<string, NDArray> = {};
          for (const [n, v] of params) all[n] = v;
          for (const [n, t] of Object.entries(feeds)) all[n] = toNd(t);
          const res = evaluate(compiled, all, want);
          for (const [p, o] of Object.entries(updates)) params.set(p, res.get(o)!);
          const out: Record<string, HostTensor> = {};
          for (const o of outputs) out[o] = toHost(res.get(o)!, float64);
          return out;
        },
        dispose() {
          params.clear();
          live = 0;
        },
      };
      return exe;
    },
    memoryStats(): MemoryStats {
      return { currentBytes: live, peakBytes: peak };
    },
    dispose() {
      live = 0;
    },
  };
  return backend;
}
