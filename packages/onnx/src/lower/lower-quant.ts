import { numel, ops } from '@lowrank/core';
import { OnnxDataType } from '../model/onnx-types.js';
import { defineLowering } from './lowering-registry.js';
import type { OnnxBuilder } from './onnx-builder.js';

/**
 * The two code values of every byte, looked up at once in a 256-entry table of
 * pairs (high nibble first): [...codes, 2] f32, no per-nibble intermediates.
 */
export function nf4PairLookup(b: OnnxBuilder, codes: string, codebook: string): string {
  const table = ops.codebookValues(codebook);
  const pairs = new Float32Array(512);
  for (let v = 0; v < 256; v++) {
    pairs[2 * v] = table[v >> 4];
    pairs[2 * v + 1] = table[v & 15];
  }
  return b.op('Gather', [b.constant(pairs, [256, 2], OnnxDataType.FLOAT), b.op('Cast', [codes], { to: OnnxDataType.INT32 })], { axis: 0 });
}

/**
 * nf4Dequantize: both codes of each byte looked up at once, then each block
 * scaled by its absmax. One float32 multiply per element, as the reference rounds it.
 */
defineLowering('nf4Dequantize', ({ b, inputs, node }) => {
  const n = numel(node.shape);
  const blockSize = Number(node.attrs.blockSize);
  const values = b.op('Reshape', [nf4PairLookup(b, inputs[0], String(node.attrs.codebook)), b.int64s([n / blockSize, blockSize])]);
  const scaled = b.op('Mul', [values, b.op('Reshape', [inputs[1], b.int64s([n / blockSize, 1])])]);
  return b.op('Reshape', [scaled, b.int64s(node.shape)]);
});
