import { closeSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { encodeModel, type ExternalPlacement } from './encode-model.js';
import type { FileRange, OnnxModel } from './onnx-types.js';

/** Appends a file's byte range to `fd` in bounded pieces. */
function copyRange(src: FileRange, fd: number): void {
  const piece = new Uint8Array(Math.min(src.byteLength, 64 << 20));
  const inFd = openSync(src.path, 'r');
  try {
    for (let done = 0; done < src.byteLength; ) {
      const n = readSync(inFd, piece, 0, Math.min(piece.length, src.byteLength - done), src.offset + done);
      if (n === 0) throw new Error(`${src.path} ended before byte ${src.offset + src.byteLength}`);
      writeSync(fd, piece.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(inFd);
  }
}

/** Protobuf cannot hold a message past 2 GiB; stay clear of it. */
export const DEFAULT_EXTERNAL_DATA_THRESHOLD = 1.8 * 1024 ** 3;

export interface WriteModelOptions {
  /** Initializer bytes above which weights go to an external data file (default 1.8 GiB). */
  readonly externalDataThresholdBytes?: number;
  /** External data file name, beside the model (default `<model>.data`). */
  readonly externalDataFile?: string;
}

export interface WrittenModel {
  readonly modelPath: string;
  /** Absent when every initializer is inline. */
  readonly externalDataPath?: string;
  readonly bytes: number;
}

/**
 * Writes a model as a .onnx file. Past the threshold, every initializer of
 * 1 KiB or more moves to one external data file (ONNX external data, offsets
 * 64-byte aligned) and the model keeps references to it.
 */
export function writeOnnxModel(model: OnnxModel, path: string, opts: WriteModelOptions = {}): WrittenModel {
  const threshold = opts.externalDataThresholdBytes ?? DEFAULT_EXTERNAL_DATA_THRESHOLD;
  const sizeOf = (t: OnnxModel['graph']['initializers'][number]) => t.file?.byteLength ?? t.data.length;
  const total = model.graph.initializers.reduce((s, t) => s + sizeOf(t), 0);
  const fileBacked = model.graph.initializers.some((t) => t.file);
  if (total <= threshold && !fileBacked) {
    const bytes = encodeModel(model);
    writeFileSync(path, bytes);
    return { modelPath: path, bytes: bytes.length };
  }
  const location = opts.externalDataFile ?? `${basename(path)}.data`;
  const dataPath = join(dirname(path), location);
  const placements = new Map<string, ExternalPlacement>();
  const fd = openSync(dataPath, 'w');
  let offset = 0;
  try {
    for (const t of model.graph.initializers) {
      const length = sizeOf(t);
      if (length < 1024 && !t.file) continue;
      const aligned = Math.ceil(offset / 64) * 64;
      if (aligned > offset) writeSync(fd, new Uint8Array(aligned - offset));
      // A file-backed weight is copied range by range: the exported model must stand on its own.
      if (t.file) copyRange(t.file, fd);
      else writeSync(fd, t.data);
      placements.set(t.name, { location, offset: aligned, length });
      offset = aligned + length;
    }
  } finally {
    closeSync(fd);
  }
  const bytes = encodeModel(model, placements);
  writeFileSync(path, bytes);
  return { modelPath: path, externalDataPath: dataPath, bytes: bytes.length + offset };
}
