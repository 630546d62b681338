import { LowrankError } from '@lowrank/core';

/** onnxruntime refused to create a session for a lowered graph. */
export class OrtSessionError extends LowrankError {
  constructor(
    readonly backend: string,
    readonly ortMessage: string,
    context: string,
  ) {
    super(
      `backend '${backend}': onnxruntime could not create a session for ${context}: ${ortMessage}. ` +
        `If an op or dtype is named, it is not supported by this execution provider; try backend 'cpu' or report the graph (exportOnnx writes it to a file).`,
    );
  }
}

/** onnxruntime failed while running a session. */
export class OrtRunError extends LowrankError {
  constructor(
    readonly backend: string,
    readonly ortMessage: string,
    context: string,
  ) {
    super(`backend '${backend}': onnxruntime failed to run ${context}: ${ortMessage}. Check the feeds (shapes, index ranges) against the graph's inputs.`);
  }
}

/** The requested execution provider's native libraries are not installed. */
export class ExecutionProviderUnavailableError extends LowrankError {
  constructor(
    readonly provider: string,
    detail: string,
    howToInstall: string,
  ) {
    super(`execution provider '${provider}' is not available: ${detail}. ${howToInstall}`);
  }
}
