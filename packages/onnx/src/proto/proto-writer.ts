/**
 * A minimal protobuf writer: just the wire types ONNX needs (varint,
 * 32-bit float, length-delimited). Chunks are kept by reference and joined
 * once, so large initializers are copied a single time.
 */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private scratch = new Uint8Array(64);
  private used = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.scratch.length) return;
    this.flushScratch();
    if (n > this.scratch.length) this.scratch = new Uint8Array(Math.max(n, 256));
  }

  private flushScratch(): void {
    if (this.used === 0) return;
    this.parts.push(this.scratch.subarray(0, this.used));
    this.scratch = new Uint8Array(this.scratch.length);
    this.used = 0;
  }

  private pushByte(b: number): void {
    this.scratch[this.used++] = b;
    this.total++;
  }

  /** Unsigned or signed 64-bit varint; negative values use ten-byte two's complement as protobuf does. */
  private rawVarint(value: number | bigint): void {
    this.reserve(10);
    if (typeof value === 'number' && value >= 0 && value <= 0xffffffff && Number.isInteger(value)) {
      let v = value;
      while (v > 0x7f) {
        this.pushByte((v & 0x7f) | 0x80);
        v = Math.floor(v / 128);
      }
      this.pushByte(v);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      this.pushByte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.pushByte(Number(v));
  }

  private tag(field: number, wire: 0 | 2 | 5): void {
    this.rawVarint(field * 8 + wire);
  }

  varint(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.rawVarint(value);
    return this;
  }

  float32(field: number, value: number): this {
    this.tag(field, 5);
    this.reserve(4);
    new DataView(this.scratch.buffer, this.scratch.byteOffset).setFloat32(this.used, value, true);
    this.used += 4;
    this.total += 4;
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.rawVarint(data.length);
    this.flushScratch();
    this.parts.push(data);
    this.total += data.length;
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, sub: ProtoWriter): this {
    this.tag(field, 2);
    this.rawVarint(sub.length);
    this.flushScratch();
    sub.flushScratch();
    this.parts.push(...sub.parts);
    this.total += sub.total;
    return this;
  }

  finish(): Uint8Array {
    this.flushScratch();
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
