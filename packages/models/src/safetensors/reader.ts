import { open, stat, type FileHandle } from 'node:fs/promises';
import { decodeFloat, decodeInt, type F32Tensor, type LoadedTensor } from './decode.js';
import { graphDtypeOf, isFloatDtype } from './dtypes.js';
import { SafetensorsFormatError, TensorNotFoundError, UnsupportedTensorDtypeError } from './errors.js';
import { parseHeader, parseHeaderLength, type SafetensorsHeader, type TensorEntry } from './header.js';
import type { TensorLocation } from './lazy.js';
import { processTensorReads } from './read-meter.js';

// fs reads are capped well below 2 GiB per call; larger tensors are read in pieces.
const READ_CHUNK = 1 << 30;

async function readExactly(fh: FileHandle, file: string, tensor: string | null, target: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const len = Math.min(READ_CHUNK, target.length - done);
    const { bytesRead } = await fh.read(target, done, len, position + done);
    if (bytesRead === 0) throw new SafetensorsFormatError(file, tensor, `file ended after ${position + done} bytes while reading (truncated?)`);
    done += bytesRead;
  }
}

/** An open safetensors file: the validated header, and tensors read one byte range at a time. */
export interface SafetensorsFile {
  readonly path: string;
  readonly header: SafetensorsHeader;
  readonly metadata: Readonly<Record<string, string>>;
  /** Size and mtime of the file when its header was validated. */
  readonly fileSize: number;
  readonly mtimeMs: number;
  names(): string[];
  has(name: string): boolean;
  entry(name: string): TensorEntry;
  /** Where a tensor's bytes are (for lazy, ranged reads that outlive this handle). */
  location(name: string): TensorLocation;
  /** The stored bytes of one tensor (little-endian, its stored dtype). */
  readBytes(name: string): Promise<Uint8Array>;
  /** A float tensor (F64/F32/F16/BF16) converted to f32. */
  read(name: string): Promise<F32Tensor>;
  /** Any tensor: floats as f32, integers as i32 (I64 must fit), U8/BOOL as bytes. */
  readHost(name: string): Promise<LoadedTensor>;
  close(): Promise<void>;
}

/** Opens a safetensors file and validates its header; tensor data is read only on request. */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const fh = await open(path, 'r');
  try {
    const info = await fh.stat();
    if (!info.isFile()) throw new SafetensorsFormatError(path, null, 'is not a regular file');
    const fileSize = info.size;
    const prefix = new Uint8Array(8);
    if (fileSize >= 8) await readExactly(fh, path, null, prefix, 0);
    const headerLen = parseHeaderLength(path, prefix, fileSize);
    const json = new Uint8Array(headerLen);
    await readExactly(fh, path, null, json, 8);
    const header = parseHeader(path, json, fileSize);
    return makeFile(path, fh, header, fileSize, info.mtimeMs);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

function makeFile(path: string, fh: FileHandle, header: SafetensorsHeader, fileSize: number, mtimeMs: number): SafetensorsFile {
  const entry = (name: string): TensorEntry => {
    const t = header.tensors.get(name);
    if (!t) throw new TensorNotFoundError(path, name, [...header.tensors.keys()]);
    return t;
  };
  const readBytes = async (name: string): Promise<Uint8Array> => {
    const t = entry(name);
    const [begin, end] = t.dataOffsets;
    const bytes = new Uint8Array(end - begin);
    await readExactly(fh, path, name, bytes, header.dataStart + begin);
    processTensorReads.record({ file: path, tensor: name, bytes: bytes.length });
    return bytes;
  };
  const numelOf = (t: TensorEntry) => t.shape.reduce((p, d) => p * d, 1);
  return {
    path,
    header,
    metadata: header.metadata,
    fileSize,
    mtimeMs,
    names: () => [...header.tensors.keys()],
    has: (name) => header.tensors.has(name),
    entry,
    location: (name) => ({ path, tensor: name, entry: entry(name), dataStart: header.dataStart, fileSize, mtimeMs }),
    readBytes,
    async read(name) {
      const t = entry(name);
      if (!isFloatDtype(t.dtype)) throw new UnsupportedTensorDtypeError(path, name, t.dtype, 'f32');
      const data = decodeFloat(await readBytes(name), t.dtype, numelOf(t));
      return { shape: [...t.shape], dtype: 'f32', data };
    },
    async readHost(name) {
      const t = entry(name);
      const bytes = await readBytes(name);
      if (isFloatDtype(t.dtype)) return { shape: [...t.shape], dtype: 'f32', data: decodeFloat(bytes, t.dtype, numelOf(t)) };
      const data = decodeInt(bytes, t.dtype, numelOf(t));
      if (!data) throw new UnsupportedTensorDtypeError(path, name, `${t.dtype} (a value outside the i32 range)`, 'i32');
      return { shape: [...t.shape], dtype: graphDtypeOf(t.dtype), data };
    },
    close: () => fh.close(),
  };
}

export interface ReadOptions {
  /** Only these tensors (each must exist); default all. */
  names?: readonly string[];
}

/** Reads float tensors of a file as f32 (F16/BF16/F64 converted). */
export async function readSafetensors(path: string, opts: ReadOptions = {}): Promise<Map<string, F32Tensor>> {
  const f = await openSafetensors(path);
  try {
    const out = new Map<string, F32Tensor>();
    for (const name of opts.names ?? f.names()) out.set(name, await f.read(name));
    return out;
  } finally {
    await f.close();
  }
}

/** Size of a file, or null if it does not exist. */
export async function fileSizeOrNull(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
