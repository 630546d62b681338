import { expandComposite, getOp, Graph, GraphError, schedule, SignatureError, UnsupportedOpError, type DType, type HostTensor, type NodeData } from '@lowrank/core';
import type { FileRange, OnnxModel, OnnxValueInfo } from '../model/onnx-types.js';
import { bytesOf, encodeValues, onnxDataType } from './dtypes.js';
import { getFusedLowering, getLowering } from './lowering-registry.js';
import { OnnxBuilder } from './onnx-builder.js';
import { chunkedWeights, lowerChunkedWeightMatmul, type BlockElements, type ChunkedWeight } from './chunked-weight-matmul.js';
import { promptOrderGates, type PromptGate } from './prompt-order.js';
import { constantValues, expansionFoldGates, foldGates, gateCondition, gateValue, inputsToGate, orderGates, orderWithGates } from './recompute-order.js';
import './lower-elementwise.js';
import './lower-reduce-shape.js';
import './lower-indexing.js';
import './lower-random.js';
import './lower-fused.js';
import './lower-quant.js';

/** Where lowerings look up the ONNX name of a core value. */
interface NameLookup {
  get(id: string): string | undefined;
}

/** True when host data already has the element layout of the dtype (no conversion needed). */
function nativeData(data: HostTensor['data'], dtype: DType): boolean {
  if (dtype === 'f32') return data instanceof Float32Array;
  if (dtype === 'i32') return data instanceof Int32Array;
  if (dtype === 'bf16' || dtype === 'f16') return data instanceof Uint16Array;
  return data instanceof Uint8Array && (dtype === 'u8' || data.every((v) => v === 0 || v === 1));
}

/** A frozen parameter's value for lowering: host data, or a byte range of a file holding it at its dtype. */
export type FrozenValue = HostTensor | { readonly shape: readonly number[]; readonly dtype: DType; readonly file: FileRange };

export const isFileBacked = (v: FrozenValue): v is Extract<FrozenValue, { file: FileRange }> => 'file' in v && !('data' in v);

/** ONNX opset of the default domain: 18 has the Bitwise ops the RNG needs and axes-as-input reductions. */
export const ONNX_OPSET = 18;

export interface LowerOptions {
  /** Graph outputs to compute (default: all). */
  readonly outputs?: readonly string[];
  /** Parameter name -> output name whose value replaces it after a run (must be graph inputs). */
  readonly updates?: Readonly<Record<string, string>>;
  /** Parameters that become graph inputs; the rest become initializers from `paramValues`. Default: trainable ones. */
  readonly inputParams?: (name: string) => boolean;
  /** Values of the parameters that become initializers. */
  readonly paramValues?: (name: string) => FrozenValue | undefined;
  /** Use fused ONNX kernels for composites: true (default), false, or only the listed ops. */
  readonly fuse?: boolean | ReadonlySet<string>;
  /** Backend name used in error messages. */
  readonly backend?: string;
  readonly graphName?: string;
  /** Gate recomputed segments on the backward pass so ORT cannot run them early (default true). */
  readonly orderRecompute?: boolean;
  /** Elements per block of a large upcast or dequantized weight (default: chunked-weight-matmul's). */
  readonly weightBlockElements?: BlockElements;
}

export interface LoweredGraph {
  readonly model: OnnxModel;
  /** Core input or parameter names the model takes, in order. */
  readonly inputs: readonly string[];
  /** Core output name -> ONNX output name. */
  readonly outputs: ReadonlyMap<string, string>;
  readonly initializerBytes: number;
  /** ONNX nodes emitted for nodes the remat pass cloned (recomputeOf set). */
  readonly recomputedOnnxNodes: number;
  readonly coreNodes: number;
}

/**
 * Lowers the part of a core graph that the requested outputs and updates need
 * into one ONNX model: composites become fused kernels or their expansions,
 * every primitive becomes a few ONNX nodes.
 */
export function lowerGraph(graph: Graph, opts: LowerOptions = {}): LoweredGraph {
  const backend = opts.backend ?? 'onnx';
  const outputs = opts.outputs ?? [...graph.outputs.keys()];
  const updates = opts.updates ?? {};
  const inputParams = opts.inputParams ?? ((n: string) => graph.params.get(n)?.trainable === true || n in updates);
  const roots = [...new Set([...outputs, ...Object.values(updates)])].map((o) => graph.outputTensor(o).id);
  const order = schedule(graph, roots);

  const b = new OnnxBuilder();
  const names = new Map<string, string>();
  const inputs: OnnxValueInfo[] = [];
  const inputNames: string[] = [];
  let initializerBytes = 0;

  for (const id of order) {
    const node = graph.node(id);
    if (node.op !== 'input' && node.op !== 'param') continue;
    const name = String(node.attrs.name);
    names.set(id, name);
    if (node.op === 'param' && !inputParams(name)) {
      const v = opts.paramValues?.(name);
      if (!v) throw new SignatureError(`frozen parameter '${name}' has no value; call setParameters with it before running`);
      if (isFileBacked(v)) {
        b.fileInitializer(name, onnxDataType(node.dtype), node.shape, v.file);
        initializerBytes += v.file.byteLength;
        continue;
      }
      if ((node.dtype === 'bf16' || node.dtype === 'f16') && !(v.data instanceof Uint16Array)) {
        throw new SignatureError(`frozen parameter '${name}' is ${node.dtype}: pass its raw 16-bit values as a Uint16Array`);
      }
      const data = nativeData(v.data, node.dtype) ? bytesOf(v.data) : encodeValues(v.data, onnxDataType(node.dtype));
      b.rawInitializer(name, onnxDataType(node.dtype), node.shape, data);
      initializerBytes += data.length;
    } else {
      inputs.push({ name, dataType: onnxDataType(node.dtype), dims: node.shape });
      inputNames.push(name);
    }
  }

  const fuse = opts.fuse ?? true;
  const canFuse = (op: string) => (typeof fuse === 'boolean' ? fuse : fuse.has(op));
  const contrib = fuse !== false;
  const lowerNode = (g: Graph, node: NodeData, localNames: NameLookup, recomputeOf: string | undefined, coreId: string): string => {
    b.origin = { coreId, op: node.op, ...(recomputeOf ? { recomputeOf } : {}) };
    const ins = node.inputs.map((i) => localNames.get(i)!);
    const inputInfo = node.inputs.map((i) => g.node(i));
    const def = getOp(node.op);
    if (def.kind === 'composite') {
      const fused = canFuse(node.op) ? getFusedLowering(node.op) : undefined;
      if (fused) return fused({ b, node, inputs: ins, inputInfo, contrib });
      // Which inputs are constants (frozen parameters or values made from them only): known for top-level nodes.
      const constantIns = g === graph ? node.inputs.map((i) => constants.has(i)) : node.inputs.map(() => false);
      return lowerExpansion(node, ins, inputInfo, recomputeOf, coreId, constantIns);
    }
    const lower = getLowering(node.op);
    if (!lower) throw new UnsupportedOpError(backend, node.op, `no ONNX lowering for this ${def.kind} op (dtype ${node.dtype})`);
    return lower({ b, node, inputs: ins, inputInfo, contrib });
  };

  /**
   * Lowers a composite through core's expansion of it (down to primitives and
   * the composites this lowering fuses), so lowerNode never re-enters here.
   */
  const lowerExpansion = (node: NodeData, ins: readonly string[], inputInfo: readonly NodeData[], recomputeOf: string | undefined, coreId: string, constantIns: readonly boolean[]): string => {
    const { graph: expanded } = expandComposite(node.op, node.attrs, inputInfo, (op) => canFuse(op) && getFusedLowering(op) !== undefined);
    const local = new Map<string, string>();
    inputInfo.forEach((_, i) => local.set(expanded.inputs.get(`in${i}`)!.id, ins[i]));
    const out = expanded.outputs.get('out')!;
    const subOrder = schedule(expanded, [out]);
    // Large constant-only values inside the expansion wait for the composite's first runtime input.
    const runtimeIn = constantIns.indexOf(false);
    const toGate = runtimeIn < 0 ? new Set<string>() : expansionFoldGates(expanded, subOrder, new Set(inputInfo.flatMap((_, i) => (constantIns[i] ? [expanded.inputs.get(`in${i}`)!.id] : []))));
    let cond: string | undefined;
    for (const sid of subOrder) {
      if (local.has(sid)) continue;
      let lookup: NameLookup = local;
      if (toGate.has(sid)) {
        cond ??= gateCondition(b, ins[runtimeIn]);
        const overrides = new Map<string, string>();
        for (const i of expanded.node(sid).inputs) {
          const info = expanded.node(i);
          overrides.set(i, gateValue(b, local.get(i)!, cond, info.shape, info.dtype));
        }
        lookup = { get: (k) => overrides.get(k) ?? local.get(k) };
      }
      local.set(sid, lowerNode(expanded, expanded.node(sid), lookup, recomputeOf, `${coreId}.${sid}`));
    }
    return local.get(out)!;
  };

  const constants = constantValues(graph, order, inputParams);
  let recomputedOnnxNodes = 0;
  const orderOnly = opts.orderRecompute === false ? new Map<string, string[]>() : orderGates(graph, order, constants);
  // Large values computed from constants only are gated on a runtime value, so ORT cannot fold them;
  // the gate is the latest runtime input of their first consumer, so they are made right before use.
  const position = new Map(order.map((id, i) => [id, i]));
  const early = new Set<string>();
  const withFoldGates = () => {
    const all = new Map(orderOnly);
    const fold = new Set<string>();
    for (const [id, dep] of foldGates(graph, order, inputParams, (v) => !early.has(v), constants)) {
      // A node with an order gate keeps it (it runs later still); either way every input is gated below.
      if (!all.has(id)) all.set(id, [dep]);
      fold.add(id);
    }
    return { gates: all, foldGated: fold };
  };
  let { gates, foldGated } = withFoldGates();
  let placed = orderWithGates(graph, order, gates);
  while (placed.stuck.length > 0) {
    // A fold gate waiting on a later input closed a cycle through the order gates: those of the
    // stuck nodes wait on an input scheduled before them instead (the schedule has no cycles).
    const late = placed.stuck.filter((id) => foldGated.has(id) && !early.has(id) && position.get(gates.get(id)![0])! > position.get(id)!);
    if (late.length === 0) throw new GraphError(`lowering: order gates form a cycle through ${placed.stuck.length} nodes (${placed.stuck.slice(0, 3).join(', ')}, …)`);
    for (const id of late) early.add(id);
    ({ gates, foldGated } = withFoldGates());
    placed = orderWithGates(graph, order, gates);
  }
  const lowerOrder = placed.order;
  if (early.size > 0 && process.env.LOWRANK_DEBUG_SESSION) console.error(`[lowrank:onnx] ${early.size} fold gates moved earlier to break a cycle`);
  const gated = new Map<string, string>();
  const conditions = new Map<string, string>();
  // Large upcast/dequantized weights read by one matmul are made there, block by block (see the module).
  const chunked = contrib ? chunkedWeights(graph, order, constants, new Set([...gates.values()].flat())) : new Map<string, ChunkedWeight>();
  const chunkedInputs = new Map<string, string[]>();
  const chunkedIn = new Map([...chunked.values()].map((c) => [c.matmul, c.producer]));
  // Nodes ORT would run late (their small result is read at the end) are read early by a gate (see the
  // module); like the blocks above, only for ORT sessions, not portable exports.
  const prompt = contrib ? promptOrderGates(graph, lowerOrder, constants, new Set(chunked.keys())) : new Map<string, PromptGate[]>();
  for (const id of lowerOrder) {
    if (names.has(id)) continue;
    const node = graph.node(id);
    const before = b.nodes.length;
    const deps = gates.get(id);
    let local: NameLookup = names;
    if (deps) {
      b.origin = { coreId: id, op: 'gate', ...(node.recomputeOf ? { recomputeOf: node.recomputeOf } : {}) };
      const overrides = new Map<string, string>();
      local = { get: (k) => overrides.get(k) ?? names.get(k) };
      // A fold-gated node gates every input: any constant-only piece of its lowering (a 4-bit weight's
      // code lookup, say) would otherwise still be folded into a full-size initializer.
      for (const i of inputsToGate(graph, id, foldGated.has(id))) {
        if (chunked.has(i)) continue; // made inside this node from its own, gated inputs
        let value = names.get(i)!;
        for (const dep of deps) {
          const key = `${value}|${dep}`;
          if (!conditions.has(dep)) conditions.set(dep, gateCondition(b, names.get(dep)!));
          if (!gated.has(key)) gated.set(key, gateValue(b, value, conditions.get(dep)!, graph.node(i).shape, graph.node(i).dtype));
          value = gated.get(key)!;
        }
        overrides.set(i, value);
      }
    }
    const late = prompt.get(id);
    if (late) {
      b.origin = { coreId: id, op: 'gate', ...(node.recomputeOf ? { recomputeOf: node.recomputeOf } : {}) };
      const inner = local;
      const overrides = new Map<string, string>();
      for (const { after, input } of late) {
        if (!conditions.has(after)) conditions.set(after, gateCondition(b, names.get(after)!));
        const info = graph.node(input);
        overrides.set(input, gateValue(b, overrides.get(input) ?? inner.get(input)!, conditions.get(after)!, info.shape, info.dtype));
      }
      local = { get: (k) => overrides.get(k) ?? inner.get(k) };
    }
    if (chunked.has(id)) {
      chunkedInputs.set(id, node.inputs.map((i) => local.get(i)!));
      names.set(id, `unlowered:${id}`); // its one consumer reads chunkedInputs instead
    } else if (chunkedIn.has(id)) {
      const producer = chunkedIn.get(id)!;
      b.origin = { coreId: id, op: node.op, ...(node.recomputeOf ? { recomputeOf: node.recomputeOf } : {}) };
      const x = local.get(node.inputs[0])!;
      const p = graph.node(producer);
      names.set(id, lowerChunkedWeightMatmul(b, node, x, p, graph.node(p.inputs[0]).dtype, chunkedInputs.get(producer)!, contrib, opts.weightBlockElements));
    } else {
      names.set(id, lowerNode(graph, node, local, node.recomputeOf, id));
    }
    if (node.recomputeOf) recomputedOnnxNodes += b.nodes.length - before;
  }

  // Output names must not reuse an input or initializer name (ONNX values are single-assignment).
  const taken = new Set([...inputNames, ...b.initializers.map((t) => t.name)]);
  const outputMap = new Map<string, string>();
  const outputInfos: OnnxValueInfo[] = [];
  b.origin = { coreId: 'outputs', op: 'output' };
  for (const o of [...new Set([...outputs, ...Object.values(updates)])]) {
    const node = graph.outputTensor(o);
    const onnxName = taken.has(o) ? `${o}:out` : o;
    b.op('Identity', [names.get(node.id)!], {}, { output: onnxName });
    outputMap.set(o, onnxName);
    outputInfos.push({ name: onnxName, dataType: onnxDataType(node.dtype), dims: node.shape });
  }

  const opsets: Record<string, number> = { '': ONNX_OPSET };
  for (const d of b.domains) opsets[d] = 1;
  return {
    model: {
      graph: { name: opts.graphName ?? 'lowrank', nodes: b.nodes, initializers: b.initializers, inputs, outputs: outputInfos },
      opsets,
      irVersion: 8,
      producer: 'lowrank',
    },
    inputs: inputNames,
    outputs: outputMap,
    initializerBytes,
    recomputedOnnxNodes,
    coreNodes: order.length,
  };
}
