import { getKernel, registerKernel } from '@tensorflow/tfjs-core';
import { crossEntropyRowsConfig } from './cross-entropy.js';
import { intBinaryConfig } from './int-binary.js';
import { intJoinConfig, intScatterAddConfig, intSplitConfig } from './int-movement.js';
import { nf4DequantizeConfig } from './nf4-dequantize.js';
import { randomUniformConfig } from './random-uniform.js';
import { softmaxConfig } from './softmax.js';
import { u8UnpackConfig } from './u8-unpack.js';

const CONFIGS = [randomUniformConfig, nf4DequantizeConfig, softmaxConfig, crossEntropyRowsConfig, intBinaryConfig, intSplitConfig, intJoinConfig, intScatterAddConfig, u8UnpackConfig];

/** Registers lowrank's WGSL kernels in tfjs's kernel registry for the 'webgpu' backend (once). */
export function registerCustomKernels(): void {
  for (const c of CONFIGS) {
    if (!getKernel(c.kernelName, c.backendName)) registerKernel(c);
  }
}
