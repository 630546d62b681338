import { LowrankError } from '@lowrank/core';

/** A dataset row that cannot be used, located by file and line. */
export class DataFormatError extends LowrankError {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
  }
}

/** A dataset, split or batch setting that leaves nothing to train or evaluate on. */
export class DatasetError extends LowrankError {}
