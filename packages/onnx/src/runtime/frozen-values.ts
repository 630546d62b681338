import { closeSync, openSync, readSync } from 'node:fs';
import type { DType, HostData } from '@lowrank/core';
import { isFileBacked, type FrozenValue } from '../lower/lower-graph.js';
import type { FileRange } from '../model/onnx-types.js';

/** Host arrays at least this large are identified by object identity, not hashed on every session lookup. */
const HASH_LIMIT_BYTES = 1 << 20;
const ids = new WeakMap<object, number>();
let nextId = 0;

/**
 * What distinguishes one frozen value from another in the session cache key:
 * a file range by path, offset and length; a small array by its content (so
 * equal weights share a session); a large array by identity (hashing gigabytes
 * on every compile would cost more than a second session).
 */
export function frozenIdentity(v: FrozenValue, hash: (data: ArrayBufferView) => string): string {
  if (isFileBacked(v)) return `file:${v.file.path}@${v.file.offset}+${v.file.byteLength}`;
  if (v.data.byteLength < HASH_LIMIT_BYTES) return hash(v.data);
  let id = ids.get(v.data);
  if (id === undefined) ids.set(v.data, (id = nextId++));
  return `array#${id}`;
}

/** Reads a file range into host data of `dtype` (for getParameters on a file-backed weight). */
export function readFileRange(f: FileRange, dtype: DType): HostData {
  const bytes = new Uint8Array(f.byteLength);
  const fd = openSync(f.path, 'r');
  try {
    for (let done = 0; done < f.byteLength; ) {
      const n = readSync(fd, bytes, done, f.byteLength - done, f.offset + done);
      if (n === 0) throw new Error(`${f.path} ended before byte ${f.offset + f.byteLength}; was it changed while lowrank ran?`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  switch (dtype) {
    case 'f32':
      return new Float32Array(bytes.buffer);
    case 'i32':
      return new Int32Array(bytes.buffer);
    case 'bf16':
    case 'f16':
      return new Uint16Array(bytes.buffer);
    default:
      return bytes;
  }
}
