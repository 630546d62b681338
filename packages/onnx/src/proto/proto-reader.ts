/** One field of a decoded protobuf message. */
export interface ProtoField {
  readonly field: number;
  readonly wire: number;
  /** Varint and fixed values as bigint; length-delimited values as bytes. */
  readonly value: bigint | Uint8Array;
}

/** Splits a protobuf message into its fields (no schema; callers pick the fields they know). */
export function readFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new RangeError('truncated protobuf varint');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 1) {
      out.push({ field, wire, value: view.getBigUint64(pos, true) });
      pos += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ field, wire, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 5) {
      out.push({ field, wire, value: BigInt(view.getUint32(pos, true)) });
      pos += 4;
    } else throw new RangeError(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}

export const decodeString = (v: bigint | Uint8Array): string => (v instanceof Uint8Array ? new TextDecoder().decode(v) : String(v));
