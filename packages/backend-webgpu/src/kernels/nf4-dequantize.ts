import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ops } from '@lowrank/core';
import { WgslProgram } from './program.js';
import { PACKED_BYTE } from './u8-unpack.js';

export const NF4_DEQUANTIZE_KERNEL = 'LowrankNf4Dequantize';

export interface Nf4DequantizeAttrs {
  shape: [number, number];
  blockSize: number;
  codebook: 'nf4' | 'fp4';
  /** Codes packed four bytes to an i32 word (resident u8 parameters), else one byte per i32. */
  packed: boolean;
}

/** WGSL f32 literals that round to the same float32 as the JavaScript codebook values. */
function wgslTable(values: readonly number[]): string {
  return values.map((v) => `${Math.fround(v).toPrecision(9)}f`).join(', ');
}

/**
 * Packed 4-bit codes (two per byte, the even element in the high nibble; bytes
 * one per i32 lane, or four per i32 word for resident parameters) times the absmax of their block of
 * `blockSize` elements, row-major over [N, K]: bitsandbytes' layout.
 */
const nf4Dequantize: KernelFunc = ({ inputs, backend, attrs }) => {
  const { codes, absmax } = inputs as { codes: TensorInfo; absmax: TensorInfo };
  const a = attrs as unknown as Nf4DequantizeAttrs;
  const table = a.codebook === 'fp4' ? ops.FP4_CODEBOOK : ops.NF4_CODEBOOK;
  const program = new WgslProgram({
    shaderKey: `lowrank_dequantize_${a.codebook}_${a.packed ? 'packed' : 'plain'}`,
    variableNames: ['codes', 'absmax'],
    outputShape: a.shape,
    uniforms: 'blockSize : i32,',
    prelude: `var<private> CODEBOOK : array<f32, 16> = array<f32, 16>(${wgslTable(table)});`,
    body: `
      if (index < uniforms.size) {
        let packed = ${a.packed ? PACKED_BYTE('codes', 'index / 2') : 'codes[index / 2] & 255'};
        let nibble = select(packed & 15, packed >> 4u, (index & 1) == 0);
        setOutputAtIndex(index, CODEBOOK[nibble] * absmax[index / uniforms.blockSize]);
      }
    `,
  });
  return (backend as WebGPUBackend).runWebGPUProgram(program, [codes, absmax], 'float32', [{ type: 'int32', data: [a.blockSize] }]);
};

export const nf4DequantizeConfig: KernelConfig = {
  kernelName: NF4_DEQUANTIZE_KERNEL,
  backendName: 'webgpu',
  kernelFunc: nf4Dequantize,
};
