import { TensorReadMeter, type TextTokenizer } from '@lowrank/models';
import type { VariantName } from '../command-options.js';
import type { LoadProgress } from '../load-progress.js';
import type { AdaptOptions } from './adapters.js';
import { describeBaseStorage, resolveBaseStorage, type BaseDtypeName, type BaseStorage } from './base-dtype.js';
import { loadBaseTokenizer, openBaseModel, type OpenedBase } from './open-base.js';

/** A command's base model, opened but unread, with its tokenizer. */
export interface CommandModel {
  readonly base: OpenedBase;
  readonly tokenizer: TextTokenizer;
  readonly storage: BaseStorage;
  /** Counts the tensor bytes read from here on (progress lines). */
  readonly meter: TensorReadMeter;
  /** Options for adaptModel / valuesWithAdapter: quantization as --base-dtype asks, reported to `progress`. */
  readonly adaptOptions: AdaptOptions;
}

/**
 * The cheap half of loading, done before any command touches tensor bytes:
 * --base-dtype against --variant, config.json and the safetensors headers
 * (shapes and dtypes checked), and the tokenizer. The caller validates its
 * data and options next, and only then adapts/quantizes and hands the
 * (lazy) weights to a backend.
 */
export async function openCommandModel(a: { model: string; baseDtype?: BaseDtypeName; variant?: VariantName }, progress?: LoadProgress): Promise<CommandModel> {
  const storage = resolveBaseStorage(a.variant, a.baseDtype);
  const meter = new TensorReadMeter();
  const base = await openBaseModel(a.model, { ...(storage.float ? { baseDtype: storage.float } : {}), meter });
  progress?.opened(base.source, base.shards, base.fileBytes, describeBaseStorage(storage, base.baseDtype));
  const tokenizer = await loadBaseTokenizer(base);
  progress?.watch(meter);
  return {
    base,
    tokenizer,
    storage,
    meter,
    adaptOptions: {
      ...(storage.quantize ? { quantize: storage.quantize } : {}),
      ...(progress ? { onQuantizedLayer: (e) => progress.quantized(e) } : {}),
      meter,
    },
  };
}
