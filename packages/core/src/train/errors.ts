import { LowrankError } from '../errors.js';

/** A trainer, optimizer or schedule option outside its allowed values. */
export class TrainConfigError extends LowrankError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`invalid ${option}: ${JSON.stringify(value)}. Allowed: ${allowed}.`);
  }
}

/** A saved trainer state that does not fit the trainer it is restored into. */
export class TrainStateError extends LowrankError {}
