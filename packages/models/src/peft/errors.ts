import { LowrankError } from '@lowrank/core';

/** adapter_config.json names a PEFT method lowrank does not load. */
export class UnknownPeftTypeError extends LowrankError {
  constructor(
    readonly dir: string,
    readonly peftType: string,
  ) {
    super(`adapter '${dir}': peft_type '${peftType}' is not supported; lowrank loads peft_type 'LORA' adapters (LoRA, DoRA, rsLoRA, QLoRA)`);
  }
}

/** An adapter directory that is missing a file or holds malformed content. */
export class AdapterFormatError extends LowrankError {
  constructor(
    readonly dir: string,
    detail: string,
  ) {
    super(`adapter '${dir}': ${detail}`);
  }
}

/** One way an adapter's tensors differ from what the model declares. */
export interface AdapterDifference {
  readonly kind: 'missing' | 'unexpected' | 'shape';
  /** PEFT key of the tensor (base_model.model.<module>...). */
  readonly key: string;
  readonly detail: string;
}

/**
 * The adapter does not fit the model: tensors the model expects but the file
 * lacks (a target module not in the file), tensors for modules the model does
 * not adapt, and shape mismatches (another rank or another base model).
 */
export class AdapterMismatchError extends LowrankError {
  constructor(
    readonly dir: string,
    readonly differences: readonly AdapterDifference[],
  ) {
    const shown = differences.slice(0, 12).map((d) => `  ${d.kind}: ${d.key} (${d.detail})`);
    if (differences.length > 12) shown.push(`  ... ${differences.length - 12} more`);
    super(
      `adapter '${dir}' does not match the model (${differences.length} difference${differences.length === 1 ? '' : 's'}):\n${shown.join('\n')}\n` +
        'Apply the adapter config the file was trained with (same target_modules, r and use_dora) to the same base model.',
    );
  }
}
