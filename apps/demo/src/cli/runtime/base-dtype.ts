import type { StorageDtype } from '@lowrank/models';
import type { Codebook } from '@lowrank/variants';
import type { VariantName } from '../command-options.js';
import { CliOptionError } from '../errors.js';

/** What `--base-dtype` accepts: a float storage dtype, or a 4-bit codebook (QLoRA-style quantized base). */
export const BASE_DTYPES = ['f32', 'bf16', 'f16', 'nf4', 'fp4'] as const;
export type BaseDtypeName = (typeof BASE_DTYPES)[number];

/** How the frozen base is held: at a float dtype (undefined: the checkpoint's), or quantized to 4 bits. */
export interface BaseStorage {
  /** Float dtype the weights are opened at (undefined: as stored in the checkpoint). */
  readonly float?: StorageDtype;
  /** 4-bit codebook the base linear layers are quantized to (with double quantization), as they stream in. */
  readonly quantize?: Codebook;
}

/**
 * Resolves `--base-dtype` against `--variant`: qlora implies nf4 and accepts
 * only a 4-bit dtype; nf4/fp4 with another variant quantizes the base the same
 * way (LoRA, DoRA, ... on a 4-bit base).
 */
export function resolveBaseStorage(variant: VariantName | undefined, baseDtype: BaseDtypeName | undefined): BaseStorage {
  if (baseDtype !== undefined && !(BASE_DTYPES as readonly string[]).includes(baseDtype)) {
    throw new CliOptionError('base-dtype', baseDtype, BASE_DTYPES.join('|'));
  }
  if (variant === 'qlora') {
    if (baseDtype === undefined || baseDtype === 'nf4' || baseDtype === 'fp4') return { quantize: baseDtype ?? 'nf4' };
    throw new CliOptionError('base-dtype', baseDtype, 'nf4|fp4 with --variant qlora (QLoRA trains on a 4-bit base; use --variant lora for a float base)');
  }
  if (baseDtype === 'nf4' || baseDtype === 'fp4') return { quantize: baseDtype };
  return baseDtype === undefined ? {} : { float: baseDtype };
}

/** `bf16`, `nf4 (double quant)` ... for notes. */
export function describeBaseStorage(s: BaseStorage, opened: StorageDtype): string {
  return s.quantize ? `${s.quantize} (4-bit, double quantization; other weights ${opened})` : opened;
}
