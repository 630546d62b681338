import { readFileSync, writeFileSync } from 'node:fs';
import type { NamedTensor } from './weights.js';
import { BenchError } from './errors.js';

/**
 * Minimal safetensors IO for the bench's own shared-weights file (F32 and I32,
 * little-endian). Kept here so the race does not depend on the model loader
 * it is measuring.
 */
export function writeSafetensors(path: string, tensors: readonly NamedTensor[]): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', writer: '@lowrank/bench' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // data starts 8-aligned
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  const parts: Buffer[] = [head, Buffer.from(json, 'utf8')];
  for (const t of tensors) parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  writeFileSync(path, Buffer.concat(parts));
}

export function readSafetensors(path: string): Map<string, NamedTensor> {
  const file = readFileSync(path);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const out = new Map<string, NamedTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = info.data_offsets;
    const bytes = file.subarray(base + start, base + end);
    const copy = new ArrayBuffer(bytes.byteLength);
    new Uint8Array(copy).set(bytes);
    if (info.dtype === 'F32') out.set(name, { name, shape: info.shape, dtype: 'F32', data: new Float32Array(copy) });
    else if (info.dtype === 'I32') out.set(name, { name, shape: info.shape, dtype: 'I32', data: new Int32Array(copy) });
    else throw new BenchError(`bench weights file ${path}: tensor ${name} has dtype ${info.dtype}; only F32 and I32 are written by the harness`);
  }
  return out;
}
