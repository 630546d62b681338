import { numel } from '@lowrank/core';
import { OnnxDataType } from '../model/onnx-types.js';
import { encodeValues, onnxDataType } from './dtypes.js';
import { defineLowering } from './lowering-registry.js';
import type { OnnxBuilder } from './onnx-builder.js';

/** Swaps the last two axes of a value of the given rank. */
function transposeLast2(b: OnnxBuilder, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return b.op('Transpose', [x], { perm });
}

/**
 * With transposes, com.microsoft FusedMatMul takes them as flags. A Transpose
 * node on a frozen weight would be constant-folded by ORT into a second,
 * transposed copy of the weight (the backward still reads the original), so
 * plain Transpose + MatMul is only for portable exports.
 */
defineLowering('matmul', ({ b, inputs, inputInfo, node, contrib }) => {
  const transA = node.attrs.transA ? 1 : 0;
  const transB = node.attrs.transB ? 1 : 0;
  if (contrib && (transA || transB)) return b.op('FusedMatMul', inputs, { transA, transB }, { domain: 'com.microsoft' });
  const a = node.attrs.transA ? transposeLast2(b, inputs[0], inputInfo[0].shape.length) : inputs[0];
  const c = node.attrs.transB ? transposeLast2(b, inputs[1], inputInfo[1].shape.length) : inputs[1];
  return b.op('MatMul', [a, c]);
});

defineLowering('gather', ({ b, inputs, node }) => b.op('Gather', inputs, { axis: Number(node.attrs.axis) }));

/**
 * scatterAdd as ScatterElements(reduction=add) on zeros, with the updates viewed
 * as [outer, indices, inner] so duplicate indices accumulate.
 */
defineLowering('scatterAdd', ({ b, inputs, inputInfo, node }) => {
  const [upd, idx] = inputInfo;
  const axis = Number(node.attrs.axis);
  const size = Number(node.attrs.size);
  const outer = numel(upd.shape.slice(0, axis));
  const n = numel(idx.shape);
  const inner = numel(upd.shape.slice(axis + idx.shape.length));
  const type = onnxDataType(node.dtype);
  const zeros = b.op('ConstantOfShape', [b.int64s([outer, size, inner])], {
    value: { kind: 'tensor', value: { name: '', dataType: type, dims: [1], data: encodeValues([0], type) } },
  });
  if (n === 0) return b.op('Reshape', [zeros, b.int64s(node.shape)], { allowzero: 1 });
  const updates = b.op('Reshape', [inputs[0], b.int64s([outer, n, inner])], { allowzero: 1 });
  const idx64 = b.op('Cast', [inputs[1]], { to: OnnxDataType.INT64 });
  const indices = b.op('Expand', [b.op('Reshape', [idx64, b.int64s([1, n, 1])]), b.int64s([outer, n, inner])]);
  const scattered = b.op('ScatterElements', [zeros, indices, updates], { axis: 1, reduction: 'add' });
  return b.op('Reshape', [scattered, b.int64s(node.shape)], { allowzero: 1 });
});
