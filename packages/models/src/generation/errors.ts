import { LowrankError } from '@lowrank/core';

export class GenerationError extends LowrankError {}
