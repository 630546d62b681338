import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { WgslProgram } from './program.js';

export const U8_UNPACK_KERNEL = 'LowrankU8Unpack';

/** WGSL: byte `i` of u8 data packed four to an i32 word, little-endian. */
export const PACKED_BYTE = (words: string, i: string): string => `((${words}[(${i}) / 4] >> u32(8 * ((${i}) % 4))) & 255)`;

/** Packed u8 words [ceil(n/4)] -> one i32 per byte, in `shape` (what tfjs kernels read). */
const u8Unpack: KernelFunc = ({ inputs, backend, attrs }) => {
  const { words } = inputs as { words: TensorInfo };
  const { shape } = attrs as unknown as { shape: number[] };
  const program = new WgslProgram({
    shaderKey: 'lowrank_u8_unpack',
    variableNames: ['words'],
    outputShape: shape,
    body: `
      if (index < uniforms.size) {
        result[index] = ${PACKED_BYTE('words', 'index')};
      }
    `,
  });
  return (backend as WebGPUBackend).runWebGPUProgram(program, [words], 'int32');
};

export const u8UnpackConfig: KernelConfig = { kernelName: U8_UNPACK_KERNEL, backendName: 'webgpu', kernelFunc: u8Unpack };
