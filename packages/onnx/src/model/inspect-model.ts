import { decodeString, readFields } from '../proto/proto-reader.js';

export interface InspectedNode {
  readonly opType: string;
  readonly domain: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly docString: string;
}

export interface InspectedInitializer {
  readonly name: string;
  readonly dims: readonly number[];
  /** ONNX TensorProto.DataType code (1 = float, 2 = uint8, 6 = int32, 7 = int64, 9 = bool). */
  readonly dataType: number;
}

export interface InspectedModel {
  readonly nodes: readonly InspectedNode[];
  readonly initializers: readonly string[];
  readonly initializerInfo: readonly InspectedInitializer[];
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly opsets: Readonly<Record<string, number>>;
}

const bytesOf = (v: bigint | Uint8Array): Uint8Array => (v instanceof Uint8Array ? v : new Uint8Array());

function valueInfoName(v: Uint8Array): string {
  const f = readFields(v).find((x) => x.field === 1);
  return f ? decodeString(f.value) : '';
}

/** TensorProto.dims, written packed or unpacked. */
function tensorDims(fields: ReturnType<typeof readFields>): number[] {
  const dims: number[] = [];
  for (const f of fields.filter((x) => x.field === 1)) {
    if (typeof f.value === 'bigint') dims.push(Number(f.value));
    else {
      // Packed varints.
      let pos = 0;
      while (pos < f.value.length) {
        let v = 0n;
        let shift = 0n;
        for (;;) {
          const b = f.value[pos++];
          v |= BigInt(b & 0x7f) << shift;
          if ((b & 0x80) === 0) break;
          shift += 7n;
        }
        dims.push(Number(v));
      }
    }
  }
  return dims;
}

/** Reads the node list and names of an ONNX model (ours or ORT's optimized output) without a schema library. */
export function inspectModel(model: Uint8Array): InspectedModel {
  const top = readFields(model);
  const opsets: Record<string, number> = {};
  for (const f of top.filter((x) => x.field === 8)) {
    const fields = readFields(bytesOf(f.value));
    const domain = fields.find((x) => x.field === 1);
    const version = fields.find((x) => x.field === 2);
    opsets[domain ? decodeString(domain.value) : ''] = Number(version?.value ?? 0);
  }
  const graphField = top.find((x) => x.field === 7);
  const graph = graphField ? readFields(bytesOf(graphField.value)) : [];
  const nodes: InspectedNode[] = [];
  const initializers: string[] = [];
  const initializerInfo: InspectedInitializer[] = [];
  const inputs: string[] = [];
  const outputs: string[] = [];
  for (const f of graph) {
    const v = bytesOf(f.value);
    if (f.field === 1) {
      const n = readFields(v);
      const strs = (k: number) => n.filter((x) => x.field === k).map((x) => decodeString(x.value));
      nodes.push({
        inputs: strs(1),
        outputs: strs(2),
        name: strs(3)[0] ?? '',
        opType: strs(4)[0] ?? '',
        docString: strs(6)[0] ?? '',
        domain: strs(7)[0] ?? '',
      });
    } else if (f.field === 5) {
      const t = readFields(v);
      const nameField = t.find((x) => x.field === 8);
      const name = nameField ? decodeString(nameField.value) : '';
      initializers.push(name);
      initializerInfo.push({ name, dims: tensorDims(t), dataType: Number(t.find((x) => x.field === 2)?.value ?? 0) });
    } else if (f.field === 11) inputs.push(valueInfoName(v));
    else if (f.field === 12) outputs.push(valueInfoName(v));
  }
  return { nodes, initializers, initializerInfo, inputs, outputs, opsets };
}
