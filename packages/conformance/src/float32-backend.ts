// A simulated float32 backend: the reference kernels, but every value is
// rounded to float32 after every primitive, and composites run as their
// expansion. It shows that the float32 tolerance table admits an honest
// float32 backend, and, with a kernel swapped out, that the suite catches a
// wrong one.
import {
  DTYPES,
  expandComposites,
  getOp,
  type Graph,
  listOps,
  NDArray,
  resolveParameterValue,
  SignatureError,
  type Attrs,
  type Backend,
  type Executable,
  type HostTensor,
} from '@lowrank/core';

/** A replacement float64 kernel for a primitive op (to build deliberately wrong backends in tests). */
export type Kernel = (inputs: readonly NDArray[], attrs: Attrs) => NDArray;

const round32 = (a: NDArray): NDArray => (a.dtype === 'f32' ? new NDArray(a.shape, 'f32', a.data.map(Math.fround)) : a);

/** Runs a graph of primitives only (composites expanded beforehand) in `order`, returning the values of `ids`. */
function runGraph(graph: Graph, order: readonly string[], feeds: ReadonlyMap<string, NDArray>, ids: readonly string[], kernels: Readonly<Record<string, Kernel>>): NDArray[] {
  const values = new Map<string, NDArray>();
  for (const id of order) {
    const node = graph.node(id);
    if (node.op === 'input' || node.op === 'param') {
      const v = feeds.get(String(node.attrs.name));
      if (!v) throw new SignatureError(`no value for ${node.op} '${String(node.attrs.name)}'`);
      values.set(id, round32(v));
      continue;
    }
    const inputs = node.inputs.map((i) => values.get(i)!);
    const out = (kernels[node.op] ?? getOp(node.op).reference!)(inputs, node.attrs);
    values.set(id, round32(out.dtype === node.dtype ? out : new NDArray(out.shape, node.dtype, out.data)));
  }
  return ids.map((id) => values.get(id)!);
}

/** A backend that computes like a float32 device (rounding after every primitive). */
export function createFloat32SimulatedBackend(kernels: Readonly<Record<string, Kernel>> = {}, name = 'float32-simulated'): Backend {
  return {
    name,
    capabilities: {
      dtypes: DTYPES,
      ops: new Set(listOps('primitive').map((d) => d.name)),
      fusedOps: new Set(),
      residentParameters: true,
      float64: false,
    },
    async compile(graph, signature = {}): Promise<Executable> {
      const outputs = signature.outputs ?? [...graph.outputs.keys()];
      const updates = Object.entries(signature.updates ?? {});
      const params = new Map<string, NDArray>();
      const toHost = (a: NDArray): HostTensor => ({ shape: a.shape, dtype: a.dtype, data: a.toHost() });
      // Composites run as their expansion into primitives: core expands them once, here.
      const roots = [...outputs, ...updates.map(([, o]) => o)];
      const flat = expandComposites(graph, () => false, roots);
      const flatIds = roots.map((r) => flat.idOf.get(graph.outputs.get(r) ?? r)!);
      return {
        report: { backend: name, nodes: graph.size, compileMs: 0 },
        async setParameters(values) {
          for (const [n, v] of Object.entries(values)) {
            const t = await resolveParameterValue(v);
            params.set(n, NDArray.fromHost(t.shape, t.dtype, t.data));
          }
        },
        async getParameters(names) {
          return Object.fromEntries((names ?? [...params.keys()]).map((n) => [n, toHost(params.get(n)!)]));
        },
        async run(feeds) {
          const all = new Map(params);
          for (const [n, t] of Object.entries(feeds)) all.set(n, NDArray.fromHost(t.shape, t.dtype, t.data));
          const res = runGraph(flat.graph, flat.order, all, flatIds, kernels);
          updates.forEach(([p], i) => params.set(p, res[outputs.length + i]));
          return Object.fromEntries(outputs.map((o, i) => [o, toHost(res[i])]));
        },
        dispose() {
          params.clear();
        },
      };
    },
    memoryStats: () => ({ currentBytes: 0, peakBytes: 0 }),
    dispose() {},
  };
}
