import { numel, ops } from '@lowrank/core';
import { OnnxDataType } from '../model/onnx-types.js';
import { defineLowering } from './lowering-registry.js';

/**
 * nf4Dequantize: split each byte into its high (even element) and low nibble,
 * interleave, look the codes up in the float32 codebook and scale each block
 * by its absmax. One float32 multiply per element, as the reference rounds it.
 */
defineLowering('nf4Dequantize', ({ b, inputs, node }) => {
  const n = numel(node.shape);
  const blockSize = Number(node.attrs.blockSize);
  const codes = inputs[0];
  const high = b.op('BitShift', [codes, b.scalar(4, OnnxDataType.UINT8)], { direction: 'RIGHT' });
  const low = b.op('BitwiseAnd', [codes, b.scalar(15, OnnxDataType.UINT8)]);
  const pairs = b.op('Concat', [b.op('Unsqueeze', [high, b.int64s([1])]), b.op('Unsqueeze', [low, b.int64s([1])])], { axis: 1 });
  const index = b.op('Cast', [b.op('Reshape', [pairs, b.int64s([n])])], { to: OnnxDataType.INT32 });
  const table = b.constant(ops.codebookValues(String(node.attrs.codebook)), [16], OnnxDataType.FLOAT);
  const values = b.op('Reshape', [b.op('Gather', [table, index], { axis: 0 }), b.int64s([n / blockSize, blockSize])]);
  const scaled = b.op('Mul', [values, b.op('Reshape', [inputs[1], b.int64s([n / blockSize, 1])])]);
  return b.op('Reshape', [scaled, b.int64s(node.shape)]);
});
