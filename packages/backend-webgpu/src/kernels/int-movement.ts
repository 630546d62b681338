import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { WgslProgram } from './program.js';

export const INT_SPLIT_KERNEL = 'LowrankIntSplit';
export const INT_JOIN_KERNEL = 'LowrankIntJoin';

/**
 * i32 -> f32 holding its high (arithmetic shift by 16) or low 16 bits: both
 * exact in f32, so tfjs's float copy kernels can move them without loss.
 */
const intSplit: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: TensorInfo };
  const high = (attrs as { high: boolean }).high;
  const program = new WgslProgram({
    shaderKey: `lowrank_int_split_${high ? 'high' : 'low'}`,
    variableNames: ['ints'],
    outputShape: x.shape,
    body: `
      if (index < uniforms.size) {
        let v = ints[index];
        setOutputAtIndex(index, f32(${high ? 'v >> 16u' : 'v & 65535'}));
      }
    `,
  });
  return (backend as WebGPUBackend).runWebGPUProgram(program, [x], 'float32');
};

/** The inverse of the split: f32 high and low halves (same shape) -> i32. */
const intJoin: KernelFunc = ({ inputs, backend }) => {
  const { high, low } = inputs as { high: TensorInfo; low: TensorInfo };
  const program = new WgslProgram({
    shaderKey: 'lowrank_int_join',
    variableNames: ['highs', 'lows'],
    outputShape: high.shape,
    body: `
      if (index < uniforms.size) {
        result[index] = (i32(highs[index]) << 16u) | (i32(lows[index]) & 65535);
      }
    `,
  });
  return (backend as WebGPUBackend).runWebGPUProgram(program, [high, low], 'int32');
};

export const intSplitConfig: KernelConfig = { kernelName: INT_SPLIT_KERNEL, backendName: 'webgpu', kernelFunc: intSplit };
export const intJoinConfig: KernelConfig = { kernelName: INT_JOIN_KERNEL, backendName: 'webgpu', kernelFunc: intJoin };

export const INT_SCATTER_ADD_KERNEL = 'LowrankIntScatterAdd';

export interface IntScatterAddAttrs {
  /** Output rows along the scatter axis. */
  size: number;
}

/**
 * Exact, deterministic i32 scatter-add of updates [outer, n, inner] into
 * [outer, size, inner] at rows idx [n]: each output element sums its matches
 * in index order (tfjs's int32 segment sum mangles values). O(output · n):
 * meant for the small integer cases; f32 goes through tfjs's atomic kernel.
 */
const intScatterAdd: KernelFunc = ({ inputs, backend, attrs }) => {
  const { updates, indices } = inputs as { updates: TensorInfo; indices: TensorInfo };
  const { size } = attrs as unknown as IntScatterAddAttrs;
  const [outer, n, inner] = updates.shape;
  const program = new WgslProgram({
    shaderKey: 'lowrank_int_scatter_add',
    variableNames: ['upd', 'idx'],
    outputShape: [outer, size, inner],
    uniforms: 'rows : i32, count : i32, inner : i32,',
    body: `
      if (index < uniforms.size) {
        let perOuter = uniforms.rows * uniforms.inner;
        let o = index / perOuter;
        let r = (index % perOuter) / uniforms.inner;
        let c = index % uniforms.inner;
        var acc = 0;
        for (var j = 0; j < uniforms.count; j = j + 1) {
          if (idx[j] == r) { acc = acc + upd[(o * uniforms.count + j) * uniforms.inner + c]; }
        }
        result[index] = acc;
      }
    `,
  });
  const uniforms = [
    { type: 'int32', data: [size] },
    { type: 'int32', data: [n] },
    { type: 'int32', data: [inner] },
  ];
  return (backend as WebGPUBackend).runWebGPUProgram(program, [updates, indices], 'int32', uniforms);
};

export const intScatterAddConfig: KernelConfig = { kernelName: INT_SCATTER_ADD_KERNEL, backendName: 'webgpu', kernelFunc: intScatterAdd };
