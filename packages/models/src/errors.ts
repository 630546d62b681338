import { LowrankError } from '@lowrank/core';

/** config.json names an architecture lowrank cannot build. */
export class UnsupportedArchitectureError extends LowrankError {
  constructor(
    readonly architecture: string,
    readonly supported: readonly string[],
    readonly source = 'config.json',
  ) {
    super(`${source}: architecture '${architecture}' is not supported; lowrank builds ${supported.join(', ')}. Convert the model or pick a supported one.`);
  }
}

/** A config.json field that is missing, of the wrong type, or set to something lowrank does not implement. */
export class ConfigError extends LowrankError {
  constructor(
    readonly field: string,
    detail: string,
    readonly source = 'config.json',
  ) {
    super(`${source}: field '${field}' ${detail}`);
  }
}

/** Checkpoint tensors that do not fit the model built from config.json. */
export class WeightMismatchError extends LowrankError {
  constructor(
    readonly dir: string,
    readonly missing: readonly string[],
    readonly wrongShape: readonly { name: string; expected: readonly number[]; got: readonly number[] }[],
  ) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.length} tensor(s): ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}`);
    for (const w of wrongShape.slice(0, 8)) parts.push(`'${w.name}' has shape [${w.got.join(', ')}], the config implies [${w.expected.join(', ')}]`);
    super(`checkpoint '${dir}' does not match its config.json: ${parts.join('; ')}. Check that config.json belongs to these weights.`);
  }
}

/** A sequence longer than the model has positions for (learned position embeddings or RoPE tables end there). */
export class SequenceTooLongError extends LowrankError {
  constructor(
    readonly length: number,
    readonly maxPositions: number,
  ) {
    super(`sequence length ${length} exceeds the model's ${maxPositions} positions (max_position_embeddings / n_positions); lower --seq-len (or max_length) to at most ${maxPositions}, or truncate the examples`);
  }
}
