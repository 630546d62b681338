import { ProtoWriter } from '../proto/proto-writer.js';
import type { OnnxAttributeValue, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './onnx-types.js';

/** Where an initializer's bytes go when the model is written with external data. */
export interface ExternalPlacement {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

// Field numbers from onnx/onnx.proto.
const MODEL = { irVersion: 1, producerName: 2, producerVersion: 3, graph: 7, opsetImport: 8 } as const;
const OPSET = { domain: 1, version: 2 } as const;
const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12 } as const;
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, docString: 6, domain: 7 } as const;
const ATTR = { name: 1, f: 2, i: 3, s: 4, t: 5, floats: 7, ints: 8, type: 20 } as const;
const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;
const TENSOR = { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 } as const;
const VALUE_INFO = { name: 1, type: 2 } as const;

/**
 * Where a file-backed tensor's bytes are, as ONNX external data: the location
 * is the absolute path written relative to '/', which the session resolves
 * against the external-initializers folder '/' (see create-session.ts).
 */
function placementOfFile(t: OnnxTensor): ExternalPlacement | undefined {
  if (!t.file) return undefined;
  return { location: t.file.path.replace(/^\/+/, ''), offset: t.file.offset, length: t.file.byteLength };
}

function encodeTensor(t: OnnxTensor, external: ExternalPlacement | undefined = placementOfFile(t)): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(TENSOR.dims, d);
  w.varint(TENSOR.dataType, t.dataType);
  if (t.name) w.string(TENSOR.name, t.name);
  if (external) {
    const entry = (k: string, v: string) => new ProtoWriter().string(1, k).string(2, v);
    w.message(TENSOR.externalData, entry('location', external.location));
    w.message(TENSOR.externalData, entry('offset', String(external.offset)));
    w.message(TENSOR.externalData, entry('length', String(external.length)));
    w.varint(TENSOR.dataLocation, 1);
  } else {
    w.bytes(TENSOR.rawData, t.data);
  }
  return w;
}

function encodeAttribute(name: string, a: OnnxAttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(ATTR.name, name);
  switch (a.kind) {
    case 'int':
      w.varint(ATTR.i, a.value);
      break;
    case 'float':
      w.float32(ATTR.f, a.value);
      break;
    case 'string':
      w.string(ATTR.s, a.value);
      break;
    case 'ints':
      for (const v of a.value) w.varint(ATTR.ints, v);
      break;
    case 'floats':
      for (const v of a.value) w.float32(ATTR.floats, v);
      break;
    case 'tensor':
      w.message(ATTR.t, encodeTensor(a.value));
      break;
  }
  return w.varint(ATTR.type, ATTR_TYPE[a.kind]);
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(NODE.input, i);
  for (const o of n.outputs) w.string(NODE.output, o);
  w.string(NODE.name, n.name).string(NODE.opType, n.opType);
  if (n.domain) w.string(NODE.domain, n.domain);
  if (n.docString) w.string(NODE.docString, n.docString);
  for (const [k, v] of Object.entries(n.attributes)) w.message(NODE.attribute, encodeAttribute(k, v));
  return w;
}

function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) shape.message(1, new ProtoWriter().varint(1, d));
  const tensorType = new ProtoWriter().varint(1, v.dataType).message(2, shape);
  return new ProtoWriter().string(VALUE_INFO.name, v.name).message(VALUE_INFO.type, new ProtoWriter().message(1, tensorType));
}

function encodeGraph(g: OnnxGraph, external: ReadonlyMap<string, ExternalPlacement>): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(GRAPH.node, encodeNode(n));
  w.string(GRAPH.name, g.name);
  for (const t of g.initializers) w.message(GRAPH.initializer, encodeTensor(t, external.get(t.name) ?? placementOfFile(t)));
  for (const i of g.inputs) w.message(GRAPH.input, encodeValueInfo(i));
  for (const o of g.outputs) w.message(GRAPH.output, encodeValueInfo(o));
  return w;
}

/**
 * Serializes a model to ONNX protobuf bytes. Initializers named in `external`
 * are written as references into an external data file instead of inline.
 */
export function encodeModel(model: OnnxModel, external: ReadonlyMap<string, ExternalPlacement> = new Map()): Uint8Array {
  const w = new ProtoWriter().varint(MODEL.irVersion, model.irVersion).string(MODEL.producerName, model.producer).string(MODEL.producerVersion, '0.1.0');
  w.message(MODEL.graph, encodeGraph(model.graph, external));
  for (const [domain, version] of Object.entries(model.opsets)) {
    const op = new ProtoWriter();
    if (domain) op.string(OPSET.domain, domain);
    w.message(MODEL.opsetImport, op.varint(OPSET.version, version));
  }
  return w.finish();
}
