import { LowrankError } from '@lowrank/core';

/** A command-line or config-file option with a value outside what it accepts. */
export class CliOptionError extends LowrankError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly allowed: string,
    readonly source = 'command line',
  ) {
    super(`invalid value ${JSON.stringify(value)} for --${option} (from ${source}); allowed: ${allowed}`);
  }
}

/** A config file that cannot be read or holds unknown options. */
export class CliConfigError extends LowrankError {}

/** An adapter method or adapter file this build cannot train, apply or merge. */
export class UnsupportedAdapterError extends LowrankError {}

/** Training stopped by a signal after saving a checkpoint. */
export class InterruptedError extends Error {
  constructor() {
    super('training interrupted; a checkpoint was saved');
  }
}
