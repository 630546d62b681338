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
 * f32 values of `elements` packed 4-bit codes (bytes, high nibble first) with
 * one absmax per `blockSize` of them, reshaped to `shape`: both codes of each
 * byte looked up at once, then each block scaled by its absmax (one float32
 * multiply per element, as the reference rounds it).
 */
export function dequantizeCodes(b: OnnxBuilder, codes: string, absmax: string, codebook: string, elements: number, blockSize: number, shape: readonly number[]): string {
  const blocks = elements / blockSize;
  const values = b.op('Reshape', [nf4PairLookup(b, codes, codebook), b.int64s([blocks, blockSize])]);
  const scaled = b.op('Mul', [values, b.op('Reshape', [absmax, b.int64s([blocks, 1])])]);
  return b.op('Reshape', [scaled, b.int64s(shape)]);
}

defineLowering('nf4Dequantize', ({ b, inputs, node }) =>
  dequantizeCodes(b, inputs[0], inputs[1], String(node.attrs.codebook), numel(node.shape), Number(node.attrs.blockSize), node.shape),
);
