import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LowrankError, type DType, type HostTensor, type JsonValue, type TrainerState } from '@lowrank/core';
import { firstNonFinite, NonFiniteTensorError, writeBytesAtomic } from '@lowrank/models';

/** A checkpoint directory that is missing, torn or written by a different run. */
export class RunCheckpointError extends LowrankError {}

const STATE_FILE = 'trainer_state.json';
const TENSOR_FILE = 'trainer_tensors.bin';
const LATEST = 'latest';
const FORMAT = 'lowrank-trainer-state/1';

type StoredDtype = 'f64' | 'f32' | 'i32' | 'u8';

interface TensorEntry {
  readonly stored: StoredDtype;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly bytes: number;
}

interface StateFile {
  readonly format: string;
  readonly step: number;
  readonly microStep: number;
  readonly seed: number;
  readonly data: JsonValue;
  readonly hooks: Record<string, JsonValue>;
  readonly run: Record<string, JsonValue>;
  readonly tensors: Record<string, TensorEntry>;
  readonly tensorBytes: number;
  readonly checksum: number;
}

/** FNV-1a over the tensor bytes: a torn or altered file fails to load instead of resuming wrongly. */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  return h;
}

/** Keeps full precision: float64 host data (the reference backend) is stored as f64, so resuming is exact. */
function storedOf(t: HostTensor): StoredDtype {
  if (t.data instanceof Float64Array) return 'f64';
  if (t.data instanceof Float32Array) return 'f32';
  if (t.data instanceof Int32Array) return 'i32';
  return 'u8';
}

function encode(tensors: Readonly<Record<string, HostTensor>>): { entries: Record<string, TensorEntry>; bytes: Uint8Array } {
  const entries: Record<string, TensorEntry> = {};
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    const stored = storedOf(t);
    const src = t.data;
    const copy = stored === 'f64' ? Float64Array.from(src) : stored === 'f32' ? Float32Array.from(src) : stored === 'i32' ? Int32Array.from(src) : Uint8Array.from(src);
    const bytes = new Uint8Array(copy.buffer);
    entries[name] = { stored, dtype: t.dtype, shape: [...t.shape], offset, bytes: bytes.length };
    parts.push(bytes);
    offset += bytes.length;
  }
  const all = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return { entries, bytes: all };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const STORED_BYTES: Record<StoredDtype, number> = { f64: 8, f32: 4, i32: 4, u8: 1 };

/** The state file is input like any other: check its shape before trusting a field of it. */
function checkStateFile(raw: unknown, dir: string): StateFile {
  const bad = (what: string): never => {
    throw new RunCheckpointError(`${dir}: ${STATE_FILE} ${what}; resume from an earlier checkpoint or start a new --out directory`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('is not a JSON object');
  const f = raw as Partial<StateFile>;
  if (f.format !== FORMAT) bad(`has format ${JSON.stringify(f.format)}, expected ${FORMAT}`);
  for (const k of ['step', 'microStep', 'seed', 'tensorBytes', 'checksum'] as const) if (!isCount(f[k])) bad(`field '${k}' is not a non-negative integer`);
  if (typeof f.tensors !== 'object' || f.tensors === null || Array.isArray(f.tensors)) bad("has no 'tensors' object");
  for (const k of ['hooks', 'run'] as const) if (typeof f[k] !== 'object' || f[k] === null || Array.isArray(f[k])) bad(`field '${k}' is not an object`);
  for (const [name, e] of Object.entries(f.tensors as Record<string, Partial<TensorEntry>>)) {
    const ok =
      typeof e === 'object' && e !== null && typeof e.stored === 'string' && Object.hasOwn(STORED_BYTES, e.stored) &&
      ['f32', 'i32', 'u8', 'bool'].includes(e.dtype as string) && Array.isArray(e.shape) && e.shape.every(isCount) &&
      isCount(e.offset) && isCount(e.bytes) && e.bytes % STORED_BYTES[e.stored as StoredDtype] === 0;
    if (!ok) bad(`entry for tensor '${name}' is malformed`);
  }
  return f as StateFile;
}

function decode(entries: Record<string, TensorEntry>, bytes: Uint8Array, dir: string): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [name, e] of Object.entries(entries)) {
    if (e.offset + e.bytes > bytes.length) throw new RunCheckpointError(`${dir}: tensor '${name}' runs past the end of ${TENSOR_FILE}`);
    const slice = bytes.slice(e.offset, e.offset + e.bytes).buffer;
    const data = e.stored === 'f64' ? new Float64Array(slice) : e.stored === 'f32' ? new Float32Array(slice) : e.stored === 'i32' ? new Int32Array(slice) : new Uint8Array(slice);
    if (data.length !== e.shape.reduce((p, d) => p * d, 1)) throw new RunCheckpointError(`${dir}: tensor '${name}' has ${data.length} values for shape [${e.shape.join(', ')}]`);
    out[name] = { shape: e.shape, dtype: e.dtype, data };
  }
  return out;
}

async function writeSynced(path: string, bytes: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync().catch(() => undefined);
  } finally {
    await fh.close();
  }
}

export const stepDirName = (step: number): string => `step-${String(step).padStart(6, '0')}`;

export interface SaveOptions {
  /** Writes the PEFT adapter files (adapter_config.json, adapter_model.safetensors) into the directory. */
  readonly writeAdapter: (dir: string) => Promise<void>;
  /** Settings of the run, checked on resume so a changed setting cannot silently continue. */
  readonly run: Record<string, JsonValue>;
  /** Checkpoints to keep (default 2). */
  readonly keep?: number;
}

/**
 * Writes a resumable checkpoint under `<out>/checkpoints/step-NNNNNN`: the PEFT
 * adapter, all trainer tensors at full precision, and the step, RNG seed, data
 * position and hook state. The directory is filled under a temporary name,
 * fsynced and renamed into place, then the `latest` pointer is replaced
 * atomically: a crash at any point leaves the previous checkpoint loadable.
 */
export async function saveRunCheckpoint(outDir: string, state: TrainerState, opts: SaveOptions): Promise<string> {
  const root = join(outDir, 'checkpoints');
  const name = stepDirName(state.step);
  // A diverged run must not replace the last good checkpoint (nor push it out with `keep`).
  for (const [tensor, t] of Object.entries(state.tensors)) {
    if (t.dtype !== 'f32') continue;
    const bad = firstNonFinite(t.data);
    if (bad >= 0) throw new NonFiniteTensorError(join(root, name, TENSOR_FILE), tensor, bad, t.data[bad]);
  }
  await mkdir(root, { recursive: true });
  const tmp = join(root, `.${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  const { entries, bytes } = encode(state.tensors);
  await writeSynced(join(tmp, TENSOR_FILE), bytes);
  const file: StateFile = {
    format: FORMAT,
    step: state.step,
    microStep: state.microStep,
    seed: state.seed,
    data: state.data,
    hooks: { ...state.hooks },
    run: opts.run,
    tensors: entries,
    tensorBytes: bytes.length,
    checksum: fnv1a(bytes),
  };
  await writeSynced(join(tmp, STATE_FILE), JSON.stringify(file, null, 1));
  await opts.writeAdapter(tmp);
  await syncDir(tmp);
  const final = join(root, name);
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await syncDir(root);
  await writeBytesAtomic(join(root, LATEST), name);
  await prune(root, name, opts.keep ?? 2);
  return final;
}

async function prune(root: string, latest: string, keep: number): Promise<void> {
  // Temporary directories of saves killed mid-way (another pid) are never read: sweep them.
  for (const d of await readdir(root)) {
    const m = /^\.step-\d+\.tmp-(\d+)$/.exec(d);
    if (m && Number(m[1]) !== process.pid) await rm(join(root, d), { recursive: true, force: true });
  }
  const dirs = (await readdir(root)).filter((d) => /^step-\d+$/.test(d)).sort();
  const old = dirs.filter((d) => d !== latest).slice(0, Math.max(0, dirs.length - keep));
  for (const d of old) await rm(join(root, d), { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  readonly dir: string;
  readonly state: TrainerState;
  readonly run: Record<string, JsonValue>;
}

/** Reads and verifies one checkpoint directory. */
export async function readRunCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8'));
  } catch (e) {
    throw new RunCheckpointError(`${dir}: cannot read ${STATE_FILE} (${(e as Error).message})`);
  }
  const file = checkStateFile(raw, dir);
  const bytes = new Uint8Array(await readFile(join(dir, TENSOR_FILE)).catch((e: Error) => {
    throw new RunCheckpointError(`${dir}: cannot read ${TENSOR_FILE} (${e.message})`);
  }));
  if (bytes.length !== file.tensorBytes || fnv1a(bytes) !== file.checksum) {
    throw new RunCheckpointError(`${dir}: ${TENSOR_FILE} does not match its checksum (torn or modified); resume from an earlier checkpoint`);
  }
  const state: TrainerState = { step: file.step, microStep: file.microStep, seed: file.seed, data: file.data, hooks: file.hooks, tensors: decode(file.tensors, bytes, dir) };
  return { dir, state, run: file.run };
}

/**
 * The checkpoint to resume from: the one `latest` names, or if that is
 * unreadable the newest step directory that verifies. Undefined when none.
 */
export async function findLatestCheckpoint(outDir: string): Promise<LoadedCheckpoint | undefined> {
  const root = join(outDir, 'checkpoints');
  const dirs = (await readdir(root).catch(() => [] as string[])).filter((d) => /^step-\d+$/.test(d)).sort().reverse();
  const pointed = (await readFile(join(root, LATEST), 'utf8').catch(() => '')).trim();
  const order = pointed && dirs.includes(pointed) ? [pointed, ...dirs.filter((d) => d !== pointed)] : dirs;
  for (const d of order) {
    try {
      return await readRunCheckpoint(join(root, d));
    } catch (e) {
      if (!(e instanceof RunCheckpointError)) throw e;
    }
  }
  return undefined;
}

/** Names the first setting that differs between the checkpoint's run and this one. */
export function checkSameRun(saved: Record<string, JsonValue>, current: Record<string, JsonValue>, dir: string): void {
  for (const k of Object.keys(current)) {
    if (JSON.stringify(saved[k]) !== JSON.stringify(current[k])) {
      throw new RunCheckpointError(
        `${dir} was written with ${k} = ${JSON.stringify(saved[k])} but this run has ${JSON.stringify(current[k])}; resume with the same setting or start a new --out directory`,
      );
    }
  }
}
