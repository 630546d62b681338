import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { WgslProgram } from './program.js';
import { ROW_LANES, ROW_REDUCE } from './row-reduce.js';

export const SOFTMAX_KERNEL = 'LowrankSoftmax';

export interface SoftmaxAttrs {
  /** logSoftmax instead of softmax. */
  log: boolean;
}

/**
 * Softmax or log-softmax over the last axis of a [rows, cols] input in one
 * pass per row: max, sum of exp(x - max), then the normalised values, with no
 * intermediate tensors (the primitive chain would materialise three).
 */
const softmax: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: TensorInfo };
  const { log } = attrs as unknown as SoftmaxAttrs;
  const [rows, cols] = x.shape;
  const program = new WgslProgram({
    shaderKey: `lowrank_softmax_${log ? 'log' : 'exp'}`,
    variableNames: ['x'],
    outputShape: [rows, cols],
    rows,
    workgroupSize: ROW_LANES,
    prelude: ROW_REDUCE,
    body: `
      // Workgroups past the last row (from a folded dispatch) redo the last row but write nothing;
      // returning early would put the barriers in non-uniform control flow.
      let valid = rowIndex() < uniforms.xShape[0];
      let row = min(rowIndex(), uniforms.xShape[0] - 1);
      let lane = i32(localId.x);
      let cols = uniforms.xShape[1];
      let base = row * cols;
      var m = -3.402823e+38f;
      for (var c = lane; c < cols; c = c + ${ROW_LANES}) { m = max(m, x[base + c]); }
      m = laneReduce(m, true);
      var s = 0.0f;
      for (var c = lane; c < cols; c = c + ${ROW_LANES}) { s = s + exp(x[base + c] - m); }
      s = laneReduce(s, false);
      let logS = log(s);
      for (var c = lane; valid && c < cols; c = c + ${ROW_LANES}) {
        let shifted = x[base + c] - m;
        setOutputAtIndex(base + c, ${log ? 'shifted - logS' : 'exp(shifted) / s'});
      }
    `,
  });
  return (backend as WebGPUBackend).runWebGPUProgram(program, [x], 'float32');
};

export const softmaxConfig: KernelConfig = { kernelName: SOFTMAX_KERNEL, backendName: 'webgpu', kernelFunc: softmax };
