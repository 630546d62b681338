import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { WgslProgram } from './program.js';
import { ROW_LANES, ROW_REDUCE } from './row-reduce.js';

export const CROSS_ENTROPY_ROWS_KERNEL = 'LowrankCrossEntropyRows';

export interface CrossEntropyRowsAttrs {
  ignoreIndex: number;
}

/**
 * Per-row negative log-likelihood logsumexp(x) - x[label] of logits
 * [rows, vocab], 0 where the label is ignoreIndex: one pass over each row and
 * no [rows, vocab] temporaries (the expansion builds a one-hot and a
 * log-softmax of that size). The mean over valid rows is taken by the caller.
 */
const crossEntropyRows: KernelFunc = ({ inputs, backend, attrs }) => {
  const { logits, labels } = inputs as { logits: TensorInfo; labels: TensorInfo };
  const { ignoreIndex } = attrs as unknown as CrossEntropyRowsAttrs;
  const [rows] = logits.shape;
  const program = new WgslProgram({
    shaderKey: 'lowrank_cross_entropy_rows',
    variableNames: ['logits', 'labels'],
    outputShape: [rows],
    rows,
    workgroupSize: ROW_LANES,
    uniforms: 'ignoreIndex : i32,',
    prelude: ROW_REDUCE,
    body: `
      // Workgroups past the last row (from a folded dispatch) redo the last row but write nothing;
      // returning early would put the barriers in non-uniform control flow.
      let valid = rowIndex() < uniforms.logitsShape[0];
      let row = min(rowIndex(), uniforms.logitsShape[0] - 1);
      let lane = i32(localId.x);
      let vocab = uniforms.logitsShape[1];
      let base = row * vocab;
      var m = -3.402823e+38f;
      for (var c = lane; c < vocab; c = c + ${ROW_LANES}) { m = max(m, logits[base + c]); }
      m = laneReduce(m, true);
      var s = 0.0f;
      for (var c = lane; c < vocab; c = c + ${ROW_LANES}) { s = s + exp(logits[base + c] - m); }
      s = laneReduce(s, false);
      if (valid && lane == 0) {
        let label = labels[row];
        var nll = 0.0f;
        if (label != uniforms.ignoreIndex && label >= 0 && label < vocab) {
          nll = log(s) + m - logits[base + label];
        }
        setOutputAtIndex(row, nll);
      }
    `,
  });
  return (backend as WebGPUBackend).runWebGPUProgram(program, [logits, labels], 'float32', [{ type: 'int32', data: [ignoreIndex] }]);
};

export const crossEntropyRowsConfig: KernelConfig = {
  kernelName: CROSS_ENTROPY_ROWS_KERNEL,
  backendName: 'webgpu',
  kernelFunc: crossEntropyRows,
};
