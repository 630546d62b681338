import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeBytesAtomic } from './atomic.js';
import type { F32Tensor, LoadedTensor } from './decode.js';
import { DTYPE_BYTES } from './dtypes.js';
import { CheckpointNotFoundError, MissingShardError, SafetensorsFormatError, TensorNotFoundError } from './errors.js';
import type { TensorEntry } from './header.js';
import type { TensorLocation } from './lazy.js';
import { fileSizeOrNull, openSafetensors, type ReadOptions, type SafetensorsFile } from './reader.js';
import { writeSafetensors, type WritableTensor, type WriteOptions } from './writer.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** The tensors of a model directory, single-file or sharded, read lazily by name. */
export interface Checkpoint {
  readonly dir: string;
  /** Files backing the checkpoint, in shard order. */
  readonly files: readonly SafetensorsFile[];
  names(): string[];
  has(name: string): boolean;
  entry(name: string): TensorEntry;
  /** Where a tensor's bytes are, for lazy reads after the checkpoint is closed. */
  location(name: string): TensorLocation;
  read(name: string): Promise<F32Tensor>;
  readHost(name: string): Promise<LoadedTensor>;
  close(): Promise<void>;
}

interface ShardIndex {
  weight_map: Record<string, string>;
}

/** An index maps names to file names; anything this large is not one (and is not read into memory). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

async function readIndex(path: string): Promise<ShardIndex> {
  const size = (await fileSizeOrNull(path)) ?? 0;
  if (size > MAX_INDEX_BYTES) throw new SafetensorsFormatError(path, null, `index is ${size} bytes, above the ${MAX_INDEX_BYTES}-byte limit for an index file`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new SafetensorsFormatError(path, null, `index is not well-formed JSON (${(e as Error).message})`);
  }
  const map = (raw as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || !Object.values(map).every((v) => typeof v === 'string')) {
    throw new SafetensorsFormatError(path, null, 'index has no weight_map object of tensor name → shard file');
  }
  return { weight_map: map as Record<string, string> };
}

/**
 * Opens `dir/model.safetensors`, or the shards listed by
 * `dir/model.safetensors.index.json` (every shard must exist and hold the
 * tensors the index assigns to it).
 */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  const indexPath = join(dir, INDEX_FILE);
  const owner = new Map<string, SafetensorsFile>();
  const files: SafetensorsFile[] = [];
  const closeAll = () => Promise.all(files.map((f) => f.close()));
  try {
    if ((await fileSizeOrNull(indexPath)) !== null) {
      const index = await readIndex(indexPath);
      const byShard = new Map<string, string[]>();
      for (const [tensor, shard] of Object.entries(index.weight_map)) byShard.set(shard, [...(byShard.get(shard) ?? []), tensor]);
      for (const [shard, tensors] of byShard) {
        if (shard.includes('/') || shard.includes('\\') || shard === '' || shard === '.' || shard === '..') throw new SafetensorsFormatError(indexPath, tensors[0], `shard name '${shard}' must be a plain file name`);
        if ((await fileSizeOrNull(join(dir, shard))) === null) throw new MissingShardError(indexPath, shard, tensors);
      }
      for (const [shard, tensors] of byShard) {
        const f = await openSafetensors(join(dir, shard));
        files.push(f);
        for (const t of tensors) {
          if (!f.has(t)) throw new SafetensorsFormatError(f.path, t, `the index assigns this tensor to shard '${shard}', which does not hold it`);
          owner.set(t, f);
        }
      }
    } else if ((await fileSizeOrNull(join(dir, SINGLE_FILE))) !== null) {
      const f = await openSafetensors(join(dir, SINGLE_FILE));
      files.push(f);
      for (const n of f.names()) owner.set(n, f);
    } else {
      throw new CheckpointNotFoundError(dir, `neither ${SINGLE_FILE} nor ${INDEX_FILE} exists. Point at a Hugging Face model directory.`);
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  const fileOf = (name: string): SafetensorsFile => {
    const f = owner.get(name);
    if (!f) throw new TensorNotFoundError(dir, name, [...owner.keys()]);
    return f;
  };
  return {
    dir,
    files,
    names: () => [...owner.keys()],
    has: (name) => owner.has(name),
    entry: (name) => fileOf(name).entry(name),
    location: (name) => fileOf(name).location(name),
    read: (name) => fileOf(name).read(name),
    readHost: (name) => fileOf(name).readHost(name),
    close: async () => {
      await closeAll();
    },
  };
}

/** Reads float tensors of a model directory (single file or sharded) as f32. */
export async function readCheckpoint(dir: string, opts: ReadOptions = {}): Promise<Map<string, F32Tensor>> {
  const ckpt = await openCheckpoint(dir);
  try {
    const out = new Map<string, F32Tensor>();
    for (const name of opts.names ?? ckpt.names()) out.set(name, await ckpt.read(name));
    return out;
  } finally {
    await ckpt.close();
  }
}

export interface CheckpointWriteOptions extends WriteOptions {
  /** Largest shard in bytes; above it the checkpoint is split with an index file (as transformers' max_shard_size). */
  maxShardBytes?: number;
}

/**
 * Writes `model.safetensors`, or `model-0000i-of-0000n.safetensors` shards plus
 * `model.safetensors.index.json` when the tensors exceed `maxShardBytes`.
 * Returns the files written (relative to dir).
 */
export async function writeCheckpoint(
  dir: string,
  tensors: ReadonlyMap<string, WritableTensor>,
  opts: CheckpointWriteOptions = {},
): Promise<string[]> {
  const bytesOf = (name: string, t: WritableTensor) => {
    const storage = typeof opts.dtype === 'function' ? opts.dtype(name) : (opts.dtype ?? 'f32');
    const per = t.dtype === 'f32' ? (storage === 'f32' ? 4 : 2) : DTYPE_BYTES[t.dtype === 'i32' ? 'I32' : 'U8'];
    return t.data.length * per;
  };
  const max = opts.maxShardBytes ?? Infinity;
  const shards: Map<string, WritableTensor>[] = [new Map()];
  let used = 0;
  let total = 0;
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    const b = bytesOf(name, t);
    total += b;
    if (used > 0 && used + b > max) {
      shards.push(new Map());
      used = 0;
    }
    shards[shards.length - 1].set(name, t);
    used += b;
  }
  if (shards.length === 1) {
    await writeSafetensors(join(dir, SINGLE_FILE), tensors, opts);
    return [SINGLE_FILE];
  }
  const pad = (i: number) => String(i).padStart(5, '0');
  const names = shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    await writeSafetensors(join(dir, names[i]), shards[i], opts);
    for (const n of shards[i].keys()) weightMap[n] = names[i];
  }
  await writeBytesAtomic(join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  return [...names, INDEX_FILE];
}
