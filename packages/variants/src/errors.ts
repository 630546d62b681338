import { LowrankError } from '@lowrank/core';

/** A LoraConfig field with a value PEFT would reject. */
export class AdapterConfigError extends LowrankError {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`LoraConfig.${field}: ${detail}`);
  }
}

/** target_modules matched no module of the model (or matched a module that is not a linear layer). */
export class TargetModulesNotFoundError extends LowrankError {
  constructor(
    readonly targets: string,
    readonly candidates: readonly string[],
  ) {
    super(
      `target_modules ${targets} matched no linear layer of the model; linear layers are: ` +
        `${candidates.slice(0, 20).join(', ')}${candidates.length > 20 ? ', ...' : ''}. Fix target_modules.`,
    );
  }
}

/** An adapter name that is not on the model, or one added twice. */
export class AdapterNameError extends LowrankError {
  constructor(
    readonly adapter: string,
    detail: string,
  ) {
    super(`adapter '${adapter}': ${detail}`);
  }
}

/** A merge that cannot be done as asked (ranks differ for linear, missing density, ...). */
export class MergeError extends LowrankError {}

/** A weight tensor missing from a state dict or of the wrong shape. */
export class WeightMismatchError extends LowrankError {
  constructor(
    readonly tensor: string,
    detail: string,
  ) {
    super(`weight '${tensor}': ${detail}`);
  }
}

/** Quantization asked of a weight it cannot apply to (size not a multiple of the block, ...). */
export class QuantizationError extends LowrankError {}
