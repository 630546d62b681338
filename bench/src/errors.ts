import { LowrankError } from '@lowrank/core';

/** A benchmark participant failed, disagreed, or could not be started. */
export class BenchError extends LowrankError {}
