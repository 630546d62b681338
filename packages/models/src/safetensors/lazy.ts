import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DType, LazyHostTensor } from '@lowrank/core';
import { bytesAreExactly, convertStored } from './convert.js';
import { SafetensorsFormatError, UnsupportedTensorDtypeError } from './errors.js';
import type { TensorEntry } from './header.js';
import { processTensorReads, type TensorReadMeter } from './read-meter.js';

// fs reads are capped well below 2 GiB per call; larger tensors are read in pieces.
const READ_CHUNK = 1 << 30;

/** Where a tensor lives: its file (as seen when the header was validated) and header entry. */
export interface TensorLocation {
  readonly path: string;
  readonly tensor: string;
  readonly entry: TensorEntry;
  /** Absolute offset of the data section. */
  readonly dataStart: number;
  /** The file's size and mtime when its header was read: a file replaced since is refused, not misread. */
  readonly fileSize: number;
  readonly mtimeMs: number;
}

/** The file changed between reading its header and reading a tensor. */
export class CheckpointChangedError extends SafetensorsFormatError {
  constructor(file: string, tensor: string, detail: string) {
    super(file, tensor, `${detail} since its header was read (was it rewritten while lowrank ran?)`);
  }
}

/** Reads exactly one tensor's byte range, opening the file for just this read. */
export async function readTensorBytes(loc: TensorLocation, meter?: TensorReadMeter): Promise<Uint8Array> {
  const [begin, end] = loc.entry.dataOffsets;
  const bytes = new Uint8Array(end - begin);
  const fh = await open(loc.path, 'r');
  try {
    const info = await fh.stat();
    if (info.size !== loc.fileSize) throw new CheckpointChangedError(loc.path, loc.tensor, `the file is ${info.size} bytes, was ${loc.fileSize}`);
    if (info.mtimeMs !== loc.mtimeMs) throw new CheckpointChangedError(loc.path, loc.tensor, 'the file was modified');
    let done = 0;
    while (done < bytes.length) {
      const len = Math.min(READ_CHUNK, bytes.length - done);
      const { bytesRead } = await fh.read(bytes, done, len, loc.dataStart + begin + done);
      if (bytesRead === 0) throw new CheckpointChangedError(loc.path, loc.tensor, `the file ended after ${loc.dataStart + begin + done} bytes`);
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
  const event = { file: loc.path, tensor: loc.tensor, bytes: bytes.length };
  processTensorReads.record(event);
  meter?.record(event);
  return bytes;
}

/**
 * A tensor that reads nothing until asked: `read()` does one ranged read of
 * its bytes and converts them to `as` (bf16/f16 kept 16-bit, or upcast to f32,
 * or rounded from f32). When the stored bytes already are `as`, `file` points
 * at them so a backend that maps files (ORT external data) never reads them
 * into JavaScript at all.
 */
export function lazyTensor(loc: TensorLocation, as: DType, meter?: TensorReadMeter): LazyHostTensor {
  const shape = [...loc.entry.shape];
  const numel = shape.reduce((p, d) => p * d, 1);
  const [begin, end] = loc.entry.dataOffsets;
  const exact = bytesAreExactly(loc.entry.dtype, as);
  return {
    shape,
    dtype: as,
    ...(exact ? { file: { path: resolve(loc.path), offset: loc.dataStart + begin, byteLength: end - begin } } : {}),
    async read() {
      const data = convertStored(await readTensorBytes(loc, meter), loc.entry.dtype, as, numel);
      if (!data) throw new UnsupportedTensorDtypeError(loc.path, loc.tensor, loc.entry.dtype, as);
      return data;
    },
  };
}
