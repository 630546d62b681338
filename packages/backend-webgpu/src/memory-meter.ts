import * as tf from '@tensorflow/tfjs-core';

/** Bytes in GPU buffers that tfjs's WebGPU backend holds for live tensors (its own counter). */
export function gpuBytesInUse(): number {
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  return m.numBytesInGPU ?? m.numBytes;
}

/**
 * Tracks the peak of tfjs's memory counter, sampled after every kernel call
 * (the moment a step's output and all still-live inputs coexist).
 */
export class MemoryMeter {
  private peak = 0;

  sample(): void {
    const now = gpuBytesInUse();
    if (now > this.peak) this.peak = now;
  }

  get peakBytes(): number {
    return this.peak;
  }

  reset(): void {
    this.peak = gpuBytesInUse();
  }
}
