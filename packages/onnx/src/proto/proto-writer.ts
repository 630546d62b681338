/**
 * A minimal protobuf writer: just the wire types ONNX needs (varint,
 * 32-bit float, length-delimited). Chunks are kept by reference and joined
 * once, so large initializers are copied a single time.
 *
 * A nested message is kept as a reference to its writer (a tree), not copied
 * into the parent, and the tree is flattened with an explicit stack in
 * `chunks()`: no spread or recursion whose size grows with the model, and no
 * repeated copying of chunk lists at each nesting level.
 */
export class ProtoWriter {
  private readonly parts: (Uint8Array | ProtoWriter)[] = [];
  private scratch = new Uint8Array(64);
  private used = 0;
  private total = 0;
  /** Set once this writer is embedded in a parent: its length is then part of the parent's bytes. */
  private sealed = false;

  get length(): number {
    return this.total;
  }

  private reserve(n: number): void {
    if (this.sealed) throw new Error('ProtoWriter: this message was already embedded in a parent; write to a new writer instead');
    if (this.used + n <= this.scratch.length) return;
    this.flushScratch();
    if (n > this.scratch.length) this.scratch = new Uint8Array(Math.max(n, 256));
  }

  private flushScratch(): void {
    if (this.used === 0) return;
    this.parts.push(this.scratch.subarray(0, this.used));
    // Keep the rest of the buffer for later small writes instead of allocating a new one.
    this.scratch = this.scratch.subarray(this.used);
    this.used = 0;
    if (this.scratch.length < 16) this.scratch = new Uint8Array(256);
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

  /** Embeds `sub` as a length-delimited field. `sub` is sealed: writing to it afterwards throws. */
  message(field: number, sub: ProtoWriter): this {
    if (sub === this || sub.sealed) throw new Error('ProtoWriter: a message can be embedded only once, and not in itself');
    this.tag(field, 2);
    this.rawVarint(sub.length);
    this.flushScratch();
    sub.flushScratch();
    sub.sealed = true;
    this.parts.push(sub);
    this.total += sub.total;
    return this;
  }

  /** The encoded bytes as a list of chunks in order (by reference, nothing copied). */
  chunks(): Uint8Array[] {
    this.flushScratch();
    const out: Uint8Array[] = [];
    // Explicit stack of (writer, next part index): nesting depth never touches the call stack.
    const writers: ProtoWriter[] = [this];
    const next: number[] = [0];
    while (writers.length > 0) {
      const top = writers.length - 1;
      const w = writers[top];
      const i = next[top];
      if (i >= w.parts.length) {
        writers.pop();
        next.pop();
        continue;
      }
      next[top] = i + 1;
      const p = w.parts[i];
      if (p instanceof ProtoWriter) {
        writers.push(p);
        next.push(0);
      } else out.push(p);
    }
    return out;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const p of this.chunks()) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
