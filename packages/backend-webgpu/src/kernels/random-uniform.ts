import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { WgslProgram } from './program.js';

export const RANDOM_UNIFORM_KERNEL = 'LowrankRandomUniform';

export interface RandomUniformAttrs {
  shape: number[];
  /** The node's 32-bit key (unsigned). */
  key: number;
}

/**
 * core/rng/counter-hash.ts in WGSL u32 arithmetic (wrapping multiply, xor,
 * shifts), so every value is bit-identical to the JavaScript reference:
 * u = (mix32(stream ^ mix32(i)) >> 8) / 2^24, stream = f(seed, step, key).
 */
const MIX32 = `
  fn mix32(v : u32) -> u32 {
    var x = v;
    x = x ^ (x >> 16u);
    x = x * 0x7feb352du;
    x = x ^ (x >> 15u);
    x = x * 0x846ca68bu;
    x = x ^ (x >> 16u);
    return x;
  }
`;

const randomUniform: KernelFunc = ({ inputs, backend, attrs }) => {
  const { seed, step } = inputs as { seed: TensorInfo; step: TensorInfo };
  const a = attrs as unknown as RandomUniformAttrs;
  const program = new WgslProgram({
    shaderKey: 'lowrank_random_uniform',
    variableNames: ['rngSeed', 'rngStep'],
    outputShape: a.shape,
    uniforms: 'key : u32,',
    prelude: MIX32,
    body: `
      if (index < uniforms.size) {
        let stream = mix32(mix32(mix32(bitcast<u32>(rngSeed[0]) ^ 0x5bd1e995u) ^ bitcast<u32>(rngStep[0])) ^ uniforms.key);
        let bits = mix32(stream ^ mix32(u32(index))) >> 8u;
        setOutputAtIndex(index, f32(bits) / 16777216.0);
      }
    `,
  });
  return (backend as WebGPUBackend).runWebGPUProgram(program, [seed, step], 'float32', [{ type: 'uint32', data: [a.key >>> 0] }]);
};

export const randomUniformConfig: KernelConfig = {
  kernelName: RANDOM_UNIFORM_KERNEL,
  backendName: 'webgpu',
  kernelFunc: randomUniform,
};
