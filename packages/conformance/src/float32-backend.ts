// A simulated float32 backend: the reference kernels, but every value is
// rounded to float32 after every primitive, and composites run as their
// expansion. It shows that the float32 tolerance table admits an honest
// float32 backend, and, with a kernel swapped out, that the suite catches a
// wrong one.
import {
  DTYPES,
  getOp,
  Graph,
  listOps,
  NDArray,
  resolveParameterValue,
  schedule,
  SignatureError,
  type Attrs,
  type Backend,
  type Executable,
  type HostTensor,
} from '@lowrank/core';

/** A replacement float64 kernel for a primitive op (to build deliberately wrong backends in tests). */
export type Kernel = (inputs: readonly NDArray[], attrs: Attrs) => NDArray;

const round32 = (a: NDArray): NDArray => (a.dtype === 'f32' ? new NDArray(a.shape, 'f32', a.data.map(Math.fround)) : a);

function runGraph(graph: Graph, feeds: ReadonlyMap<string, NDArray>, roots: readonly string[], kernels: Readonly<Record<string, Kernel>>): NDArray[] {
  const ids = roots.map((r) => graph.outputs.get(r) ?? r);
  const values = new Map<string, NDArray>();
  for (const id of schedule(graph, ids)) {
    const node = graph.node(id);
    if (node.op === 'input' || node.op === 'param') {
      const v = feeds.get(String(node.attrs.name));
      if (!v) throw new SignatureError(`no value for ${node.op} '${String(node.attrs.name)}'`);
      values.set(id, round32(v));
      continue;
    }
    const inputs = node.inputs.map((i) => values.get(i)!);
    const def = getOp(node.op);
    let out: NDArray;
    if (def.kind === 'composite') {
      const scratch = new Graph();
      const ts = inputs.map((v, i) => scratch.input(`in${i}`, v.shape, v.dtype));
      scratch.output('out', def.expand!(ts, node.attrs));
      out = runGraph(scratch, new Map(inputs.map((v, i) => [`in${i}`, v])), ['out'], kernels)[0];
    } else {
      out = (kernels[node.op] ?? def.reference!)(inputs, node.attrs);
    }
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
          const roots = [...outputs, ...updates.map(([, o]) => o)];
          const res = runGraph(graph, all, roots, kernels);
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
