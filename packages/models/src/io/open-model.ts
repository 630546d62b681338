import { join } from 'node:path';
import { LowrankError, type LazyHostTensor } from '@lowrank/core';
import { buildModel, type LanguageModel } from '../architectures/index.js';
import { readConfig, type ModelConfig } from '../config/index.js';
import { declareBaseStorage } from '../nn/base-storage.js';
import { lazyTensor, openCheckpoint, STORAGE_DTYPES, type Checkpoint, type SafetensorsDtype, type StorageDtype, type TensorLocation, type TensorReadMeter } from '../safetensors/index.js';
import { matchCheckpoint } from './checkpoint-keys.js';

/** A --base-dtype the loader cannot hold a base at. */
export class BaseDtypeError extends LowrankError {
  constructor(readonly requested: unknown) {
    super(`base dtype ${JSON.stringify(requested)} is not supported; allowed: ${STORAGE_DTYPES.join(', ')} (nf4 and fp4 through QLoRA's 4-bit quantization)`);
  }
}

export interface OpenModelOptions {
  /** Storage dtype of the frozen Linear and embedding weights (default: the checkpoint's). */
  baseDtype?: StorageDtype;
  /** Counts the bytes the lazy tensors read, for progress lines. */
  meter?: TensorReadMeter;
}

/** A model whose weights are lazy tensors pointing into its safetensors files. */
export interface OpenedModel {
  readonly config: ModelConfig;
  readonly model: LanguageModel;
  /** Every parameter, by name: nothing read yet. */
  readonly weights: Map<string, LazyHostTensor>;
  /** Where each parameter's bytes are (for a caller that must read one tensor synchronously, e.g. DoRA's magnitude init). */
  readonly locations: ReadonlyMap<string, TensorLocation>;
  /** Checkpoint tensors the model does not use (other than known buffers and a tied lm_head). */
  readonly unused: string[];
  /** Float dtype most of the checkpoint's weight bytes are stored in. */
  readonly checkpointDtype: StorageDtype;
  /** Dtype the frozen base weights are held at. */
  readonly baseDtype: StorageDtype;
  /** Bytes the parameters occupy in the files, and the number of shard files. */
  readonly fileBytes: number;
  readonly shards: number;
  /** Conversions the loader will do as it reads (for a note line). */
  readonly notes: readonly string[];
}

const STORED_AS: Partial<Record<SafetensorsDtype, StorageDtype>> = { F32: 'f32', F64: 'f32', BF16: 'bf16', F16: 'f16' };

/** The float dtype holding most weight bytes of the checkpoint (f32 when none). */
function dominantDtype(ckpt: Checkpoint, keys: Iterable<string>): StorageDtype {
  const bytes = new Map<StorageDtype, number>();
  for (const k of keys) {
    const e = ckpt.entry(k);
    const d = STORED_AS[e.dtype];
    if (d) bytes.set(d, (bytes.get(d) ?? 0) + e.dataOffsets[1] - e.dataOffsets[0]);
  }
  let best: StorageDtype = 'f32';
  let most = -1;
  for (const [d, b] of bytes) if (b > most) [best, most] = [d, b];
  return best;
}

/**
 * Opens a Hugging Face model directory at storage precision, reading only
 * config.json and the safetensors headers: shapes, dtypes and offsets are
 * validated up front, and every parameter comes back as a lazy tensor whose
 * bytes are read (one ranged read) only when a backend or quantizer asks.
 * The frozen Linear and embedding weights are declared at `baseDtype` (the
 * checkpoint's by default): bf16 stays bf16, f32 from a bf16 file is upcast
 * per tensor as it is read, bf16 from an f32 file rounded per tensor.
 */
export async function openModel(dir: string, opts: OpenModelOptions = {}): Promise<OpenedModel> {
  if (opts.baseDtype !== undefined && !STORAGE_DTYPES.includes(opts.baseDtype)) throw new BaseDtypeError(opts.baseDtype);
  const config = await readConfig(join(dir, 'config.json'));
  const model = buildModel(config);
  const ckpt = await openCheckpoint(dir);
  try {
    const { keys, unused } = matchCheckpoint(dir, model, ckpt);
    const checkpointDtype = dominantDtype(ckpt, keys.values());
    const baseDtype = opts.baseDtype ?? checkpointDtype;
    if (baseDtype !== 'f32') declareBaseStorage(model, baseDtype);
    const weights = new Map<string, LazyHostTensor>();
    const locations = new Map<string, TensorLocation>();
    const specs = model.namedParams();
    let fileBytes = 0;
    for (const [name, k] of keys) {
      const loc = ckpt.location(k);
      locations.set(name, loc);
      weights.set(name, lazyTensor(loc, specs.get(name)!.dtype, opts.meter));
      fileBytes += loc.entry.dataOffsets[1] - loc.entry.dataOffsets[0];
    }
    const notes: string[] = [];
    if (baseDtype !== checkpointDtype) {
      notes.push(
        baseDtype === 'f32'
          ? `base dtype f32 from a ${checkpointDtype} checkpoint: each weight is upcast to f32 once, as it is read (the base then takes twice the file's bytes)`
          : `base dtype ${baseDtype} from a ${checkpointDtype} checkpoint: each weight is rounded to ${baseDtype} (nearest even), one tensor at a time as it is read`,
      );
    }
    return { config, model, weights, locations, unused, checkpointDtype, baseDtype, fileBytes, shards: ckpt.files.length, notes };
  } finally {
    await ckpt.close();
  }
}
