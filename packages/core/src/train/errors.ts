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

/** A step whose loss or gradient was NaN or infinite, with `onNonFinite: 'stop'`. The update was not applied. */
export class NonFiniteStepError extends LowrankError {
  constructor(
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
  ) {
    super(
      `optimizer step ${step}: loss ${loss} / gradient norm ${gradNorm} is not finite; the update was not applied. ` +
        `Lower the learning rate, set maxGradNorm, check the data, or train with onNonFinite 'skip' or 'scale'.`,
    );
  }
}
