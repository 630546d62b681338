import { DTYPE_BYTES, isSafetensorsDtype, type SafetensorsDtype } from './dtypes.js';
import { SafetensorsFormatError } from './errors.js';

/** Headers above this are refused before any allocation (a corrupt length would otherwise ask for gigabytes). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor's entry in the header: offsets are relative to the start of the data section. */
export interface TensorEntry {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly dataOffsets: readonly [number, number];
}

export interface SafetensorsHeader {
  /** Byte length of the JSON header (the file's first 8 bytes). */
  readonly headerBytes: number;
  /** Absolute file offset where the data section starts (8 + headerBytes). */
  readonly dataStart: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: ReadonlyMap<string, TensorEntry>;
}

const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Reads the little-endian u64 header length, refusing values the file cannot hold. */
export function parseHeaderLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8) throw new SafetensorsFormatError(file, null, `file is ${fileSize} bytes, shorter than the 8-byte header length`);
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsFormatError(file, null, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const len = Number(n);
  if (len < 2) throw new SafetensorsFormatError(file, null, `header length ${len} is too short for a JSON object`);
  if (8 + len > fileSize) {
    throw new SafetensorsFormatError(file, null, `header length ${len} runs past the end of the ${fileSize}-byte file (truncated?)`);
  }
  return len;
}

/**
 * Parses and validates the JSON header: well-formed, known dtypes, every
 * offset inside the data section, dtype × shape = byte length, no overlaps.
 */
export function parseHeader(file: string, json: Uint8Array, fileSize: number): SafetensorsHeader {
  const headerBytes = json.length;
  const dataStart = 8 + headerBytes;
  const dataBytes = fileSize - dataStart;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw new SafetensorsFormatError(file, null, `header is not well-formed UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SafetensorsFormatError(file, null, 'header is not a JSON object');
  }
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(file, value);
      continue;
    }
    tensors.set(name, parseEntry(file, name, value, dataBytes));
  }
  checkOverlaps(file, tensors);
  return { headerBytes, dataStart, metadata, tensors };
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SafetensorsFormatError(file, null, '__metadata__ must be an object of strings');
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new SafetensorsFormatError(file, null, `__metadata__ value '${k}' is not a string`);
  }
  return { ...(value as Record<string, string>) };
}

function parseEntry(file: string, name: string, value: unknown, dataBytes: number): TensorEntry {
  const bad = (detail: string): never => {
    throw new SafetensorsFormatError(file, name, detail);
  };
  if (typeof value !== 'object' || value === null) bad('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isSafetensorsDtype(dtype)) return bad(`unknown or unsupported dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) return bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt)) {
    return bad(`data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) bad(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataBytes) bad(`data_offsets [${begin}, ${end}] run past the ${dataBytes}-byte data section (truncated?)`);
  const numel = (shape as number[]).reduce((p, d) => p * d, 1);
  const want = numel * DTYPE_BYTES[dtype];
  if (end - begin !== want) {
    bad(`${dtype} × [${(shape as number[]).join(', ')}] needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] };
}

function checkOverlaps(file: string, tensors: ReadonlyMap<string, TensorEntry>): void {
  const spans = [...tensors].filter(([, t]) => t.dataOffsets[1] > t.dataOffsets[0]).sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  for (let i = 1; i < spans.length; i++) {
    const [prevName, prev] = spans[i - 1];
    const [name, cur] = spans[i];
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new SafetensorsFormatError(
        file,
        name,
        `bytes [${cur.dataOffsets[0]}, ${cur.dataOffsets[1]}] overlap tensor '${prevName}' at [${prev.dataOffsets[0]}, ${prev.dataOffsets[1]}]`,
      );
    }
  }
}
