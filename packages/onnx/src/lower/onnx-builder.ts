import type { FileRange, OnnxAttributeValue, OnnxDataTypeCode, OnnxNode, OnnxTensor } from '../model/onnx-types.js';
import { OnnxDataType } from '../model/onnx-types.js';
import { encodeValues } from './dtypes.js';

export type AttrInput = number | string | readonly number[] | OnnxAttributeValue;

/** Where the nodes being emitted come from, recorded in their names and doc strings. */
export interface EmitOrigin {
  readonly coreId: string;
  readonly op: string;
  readonly recomputeOf?: string;
}

/**
 * Accumulates ONNX nodes and initializers with unique value names. Lowerings
 * call `op` and the constant helpers; the graph lowering sets `origin` per core node.
 */
/** Consumers one shared small constant may have before a fresh copy is made. */
const SHARED_CONSTANT_USES = +(process.env.LOWRANK_SHARED_USES ?? 32);

export class OnnxBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly domains = new Set<string>();
  origin: EmitOrigin = { coreId: 'graph', op: '' };
  private counter = 0;
  private readonly smallConstants = new Map<string, { name: string; uses: number }>();

  fresh(hint: string): string {
    return `${this.origin.coreId}/${hint}_${this.counter++}`;
  }

  /** Emits one ONNX node and returns the name of its (first) output. */
  op(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrInput>> = {}, opts: { domain?: string; output?: string; outputs?: number } = {}): string {
    const domain = opts.domain ?? '';
    if (domain) this.domains.add(domain);
    const count = opts.outputs ?? 1;
    const outputs = Array.from({ length: count }, (_, i) => (i === 0 && opts.output ? opts.output : this.fresh(opType)));
    const attributes: Record<string, OnnxAttributeValue> = {};
    for (const [k, v] of Object.entries(attrs)) attributes[k] = toAttribute(v);
    const o = this.origin;
    this.nodes.push({
      opType,
      domain,
      name: `${o.coreId}:${o.op}${o.recomputeOf ? `:recompute(${o.recomputeOf})` : ''}:${opType}_${this.counter++}`,
      inputs,
      outputs,
      attributes,
      ...(o.recomputeOf ? { docString: `lowrank recompute of ${o.recomputeOf}` } : {}),
    });
    return outputs[0];
  }

  /** Emits a node with several outputs and returns all their names. */
  opMulti(opType: string, inputs: readonly string[], outputs: number, attrs: Readonly<Record<string, AttrInput>> = {}, domain = ''): string[] {
    const first = this.op(opType, inputs, attrs, { domain, outputs });
    return this.nodes[this.nodes.length - 1].outputs.map((n, i) => (i === 0 ? first : n));
  }

  /**
   * An initializer holding `values`; small ones are shared (constants cannot be
   * merged wrongly), but by at most SHARED_CONSTANT_USES consumers each: ORT's
   * graph passes walk a value's consumer list per use, so one constant feeding
   * thousands of nodes makes session creation quadratic in the model's depth.
   */
  constant(values: ArrayLike<number>, dims: readonly number[], dataType: OnnxDataTypeCode): string {
    const small = values.length <= 16;
    const key = small ? `${dataType}|${dims.join(',')}|${Array.from(values).join(',')}` : '';
    if (small) {
      const hit = this.smallConstants.get(key);
      if (hit && hit.uses < SHARED_CONSTANT_USES) {
        hit.uses++;
        return hit.name;
      }
    }
    const name = `const_${this.initializers.length}_${this.counter++}`;
    this.initializers.push({ name, dataType, dims: [...dims], data: encodeValues(values, dataType) });
    if (small) this.smallConstants.set(key, { name, uses: 1 });
    return name;
  }

  /** An initializer from raw bytes already in ONNX layout. */
  rawInitializer(name: string, dataType: OnnxDataTypeCode, dims: readonly number[], data: Uint8Array): string {
    this.initializers.push({ name, dataType, dims: [...dims], data });
    return name;
  }

  /** An initializer whose bytes ORT reads from a file range (external data). */
  fileInitializer(name: string, dataType: OnnxDataTypeCode, dims: readonly number[], file: FileRange): string {
    this.initializers.push({ name, dataType, dims: [...dims], data: new Uint8Array(0), file });
    return name;
  }

  int64s(values: readonly number[]): string {
    return this.constant(values, [values.length], OnnxDataType.INT64);
  }

  scalar(value: number, dataType: OnnxDataTypeCode): string {
    return this.constant([value], [], dataType);
  }
}

function toAttribute(v: AttrInput): OnnxAttributeValue {
  if (typeof v === 'number') return Number.isInteger(v) ? { kind: 'int', value: v } : { kind: 'float', value: v };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) return { kind: 'ints', value: v as readonly number[] };
  return v as OnnxAttributeValue;
}

/** A float attribute even when the value happens to be integral (epsilon = 1, alpha = 2 ...). */
export const floatAttr = (value: number): OnnxAttributeValue => ({ kind: 'float', value });
export const intAttr = (value: number): OnnxAttributeValue => ({ kind: 'int', value });
