import { LowrankError, type DType, type HostData, type Shape } from '@lowrank/core';
import { DTYPE_BYTES, floatToBf16Bits, floatToF16Bits, type SafetensorsDtype } from './dtypes.js';
import { writeAll, writeFileAtomic } from './atomic.js';

/** A tensor to write: any host tensor (f32 data may also be float64). */
export interface WritableTensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly data: HostData;
}

/** Float storage precision for writing. */
export type FloatStorage = 'f32' | 'f16' | 'bf16';

export interface WriteOptions {
  /** String metadata (`__metadata__`), e.g. `{ format: 'pt' }`. */
  metadata?: Readonly<Record<string, string>>;
  /** Storage of float tensors: one for all, or chosen per tensor name. Default f32. */
  dtype?: FloatStorage | ((name: string) => FloatStorage);
  /** Write NaN/±Inf float values instead of refusing them (never for weights; default false). */
  allowNonFinite?: boolean;
}

/** A tensor whose data does not match its shape, or a dtype the writer cannot store. */
export class SafetensorsWriteError extends LowrankError {
  constructor(
    readonly file: string,
    readonly tensor: string,
    detail: string,
  ) {
    super(`cannot write tensor '${tensor}' to '${file}': ${detail}`);
  }
}

/** A float tensor holding NaN or ±Inf: refused so a diverged run never overwrites good weights on disk. */
export class NonFiniteTensorError extends SafetensorsWriteError {
  constructor(
    file: string,
    tensor: string,
    readonly index: number,
    readonly value: number,
  ) {
    super(file, tensor, `element ${index} is ${value}; non-finite weights are never saved. Resume from the last good checkpoint and lower the learning rate or enable onNonFinite`);
  }
}

/** Index of the first NaN/±Inf value, or -1. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

const STORAGE: Record<FloatStorage, SafetensorsDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

function storedDtype(name: string, t: WritableTensor, opts: WriteOptions): SafetensorsDtype {
  switch (t.dtype) {
    case 'f32':
      return STORAGE[typeof opts.dtype === 'function' ? opts.dtype(name) : (opts.dtype ?? 'f32')];
    case 'i32':
      return 'I32';
    case 'u8':
      return 'U8';
    case 'bool':
      return 'BOOL';
    case 'bf16':
      return 'BF16';
    case 'f16':
      return 'F16';
  }
}

/** A 16-bit tensor's raw bits as little-endian bytes (no rounding: they already are the stored values). */
function halfBitsBytes(data: HostData): Uint8Array {
  const bits = data instanceof Uint16Array ? data : Uint16Array.from(data as ArrayLike<number>);
  const out = new Uint8Array(bits.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < bits.length; i++) view.setUint16(i * 2, bits[i], true);
  return out;
}

/** Encodes one tensor's values little-endian in the stored dtype. */
export function encodeTensor(data: HostData, dtype: SafetensorsDtype): Uint8Array {
  const n = data.length;
  const out = new Uint8Array(n * DTYPE_BYTES[dtype]);
  const view = new DataView(out.buffer);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) view.setFloat32(i * 4, data[i], true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) view.setUint16(i * 2, floatToF16Bits(data[i]), true);
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) view.setUint16(i * 2, floatToBf16Bits(data[i]), true);
      break;
    case 'I32':
      for (let i = 0; i < n; i++) view.setInt32(i * 4, data[i], true);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = data[i];
      break;
    default:
      throw new Error(`encodeTensor: writing ${dtype} is not supported`);
  }
  return out;
}

/**
 * Writes tensors as a safetensors file, atomically (temporary file, fsync,
 * rename, fsync of the directory). Tensors are laid out in name order, the
 * header padded with spaces to 8 bytes as the reference implementation does.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, WritableTensor> | Readonly<Record<string, WritableTensor>>,
  opts: WriteOptions = {},
): Promise<void> {
  const entries = (tensors instanceof Map ? [...tensors] : Object.entries(tensors)) as [string, WritableTensor][];
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length) header.__metadata__ = { ...opts.metadata };
  const plan: { name: string; dtype: SafetensorsDtype; t: WritableTensor }[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsWriteError(path, name, 'the name __metadata__ is reserved');
    const numel = t.shape.reduce((p, d) => p * d, 1);
    if (numel !== t.data.length) {
      throw new SafetensorsWriteError(path, name, `shape [${t.shape.join(', ')}] has ${numel} elements but the data holds ${t.data.length}`);
    }
    if (t.dtype === 'f32' && !opts.allowNonFinite) {
      const bad = firstNonFinite(t.data);
      if (bad >= 0) throw new NonFiniteTensorError(path, name, bad, t.data[bad]);
    }
    const dtype = storedDtype(name, t, opts);
    const bytes = numel * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    plan.push({ name, dtype, t });
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  await writeFileAtomic(path, async (fh) => {
    await writeAll(fh, prefix);
    await writeAll(fh, jsonBytes);
    for (const { dtype, t } of plan) await writeAll(fh, t.dtype === 'bf16' || t.dtype === 'f16' ? halfBitsBytes(t.data) : encodeTensor(t.data, dtype));
  });
}
