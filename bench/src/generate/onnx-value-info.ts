/**
 * Graph inputs and outputs with symbolic dimensions (dim_param), which
 * lowrank's ONNX encoder does not write (its graphs are static): the encoded
 * model is re-wrapped with these ValueInfoProtos appended to its graph.
 */
export interface SymbolicValueInfo {
  name: string;
  /** TensorProto.DataType. */
  elemType: number;
  dims: readonly (number | string)[];
}

class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }
  varintRaw(v: number): this {
    const out: number[] = [];
    let x = v;
    while (x > 0x7f) {
      out.push((x % 128) | 0x80);
      x = Math.floor(x / 128);
    }
    out.push(x);
    this.push(Uint8Array.from(out));
    return this;
  }
  varint(field: number, v: number): this {
    return this.varintRaw(field * 8).varintRaw(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.varintRaw(field * 8 + 2).varintRaw(b.length);
    this.push(b);
    return this;
  }
  /** Bytes already encoded (whole fields). */
  bytesRaw(b: Uint8Array): this {
    this.push(b);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function valueInfo(v: SymbolicValueInfo): Writer {
  const shape = new Writer();
  for (const d of v.dims) shape.message(1, typeof d === 'number' ? new Writer().varint(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().varint(1, v.elemType).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

function readVarint(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[at++];
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, at];
    mul *= 128;
  }
}

/** ModelProto bytes with `inputs` (GraphProto field 11) and `outputs` (field 12) added to its graph (field 7). */
export function withSymbolicIo(model: Uint8Array, inputs: readonly SymbolicValueInfo[], outputs: readonly SymbolicValueInfo[]): Uint8Array {
  const out = new Writer();
  let at = 0;
  while (at < model.length) {
    const start = at;
    const [key, afterKey] = readVarint(model, at);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      at = readVarint(model, afterKey)[1];
    } else if (wire === 2) {
      const [len, afterLen] = readVarint(model, afterKey);
      at = afterLen + len;
      if (field === 7) {
        const graph = new Writer();
        graph.bytesRaw(model.subarray(afterLen, at));
        for (const v of inputs) graph.message(11, valueInfo(v));
        for (const v of outputs) graph.message(12, valueInfo(v));
        out.message(7, graph);
        continue;
      }
    } else {
      throw new Error(`unexpected wire type ${wire} at byte ${start} of the encoded model`);
    }
    out.bytesRaw(model.subarray(start, at));
  }
  return out.finish();
}
