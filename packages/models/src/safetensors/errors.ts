import { LowrankError } from '@lowrank/core';

/**
 * A safetensors file that breaks the format: names the file and, where one is
 * to blame, the tensor, so a user can tell a corrupt download from a bug.
 */
export class SafetensorsFormatError extends LowrankError {
  constructor(
    readonly file: string,
    readonly tensor: string | null,
    readonly detail: string,
  ) {
    super(
      `safetensors file '${file}'${tensor !== null ? `, tensor '${tensor}'` : ''}: ${detail}. ` +
        `The file is corrupt or truncated: download or save it again.`,
    );
  }
}

/** A tensor name the checkpoint does not hold. */
export class TensorNotFoundError extends LowrankError {
  constructor(
    readonly file: string,
    readonly tensor: string,
    available: readonly string[],
  ) {
    const shown = available.slice(0, 12).join(', ') + (available.length > 12 ? `, ... (${available.length} in all)` : '');
    super(`checkpoint '${file}' has no tensor '${tensor}'; it holds: ${shown || '<nothing>'}. Check the parameter name.`);
  }
}

/** A tensor stored in a dtype the caller cannot take (an integer tensor read as float, say). */
export class UnsupportedTensorDtypeError extends LowrankError {
  constructor(
    readonly file: string,
    readonly tensor: string,
    readonly dtype: string,
    wanted: string,
  ) {
    super(`safetensors file '${file}', tensor '${tensor}': dtype ${dtype} cannot be read as ${wanted}. Convert the checkpoint or read it with readHost().`);
  }
}

/** `model.safetensors.index.json` names a shard file that is not there. */
export class MissingShardError extends LowrankError {
  constructor(
    readonly indexFile: string,
    readonly shard: string,
    readonly tensors: readonly string[],
  ) {
    super(
      `sharded checkpoint '${indexFile}' maps ${tensors.length} tensor(s) (e.g. '${tensors[0] ?? '?'}') to shard '${shard}', ` +
        `which does not exist. Download the missing shard next to the index file.`,
    );
  }
}

/** A directory with neither model.safetensors nor model.safetensors.index.json, or a broken index. */
export class CheckpointNotFoundError extends LowrankError {
  constructor(
    readonly dir: string,
    detail: string,
  ) {
    super(`checkpoint directory '${dir}': ${detail}`);
  }
}
