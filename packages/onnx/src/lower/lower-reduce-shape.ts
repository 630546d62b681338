import { numel } from '@lowrank/core';
import { OnnxDataType } from '../model/onnx-types.js';
import { encodeValues, onnxDataType } from './dtypes.js';
import { defineLowering, type LowerContext } from './lowering-registry.js';

function reduction(onnx: string) {
  return ({ b, inputs, inputInfo, node }: LowerContext): string => {
    const axes = node.attrs.axes as readonly number[];
    const keepdims = node.attrs.keepdims ? 1 : 0;
    // An empty axes input means "reduce everything" in ONNX but "nothing" for us.
    if (axes.length === 0) return b.op('Identity', inputs);
    const rank = inputInfo[0].shape.length;
    const norm = axes.map((a) => (a < 0 ? a + rank : a));
    const dtype = inputInfo[0].dtype;
    const x = dtype === 'u8' ? b.op('Cast', inputs, { to: OnnxDataType.INT32 }) : inputs[0];
    const r = b.op(onnx, [x, b.int64s(norm)], { keepdims });
    return dtype === 'u8' ? b.op('Cast', [r], { to: onnxDataType(node.dtype) }) : r;
  };
}
defineLowering('reduceSum', reduction('ReduceSum'));
defineLowering('reduceMean', reduction('ReduceMean'));
defineLowering('reduceMax', reduction('ReduceMax'));

defineLowering('softmax', ({ b, inputs, node }) => b.op('Softmax', inputs, { axis: Number(node.attrs.axis) }));
defineLowering('logSoftmax', ({ b, inputs, node }) => b.op('LogSoftmax', inputs, { axis: Number(node.attrs.axis) }));

defineLowering('reshape', ({ b, inputs, node }) => b.op('Reshape', [inputs[0], b.int64s(node.shape)], { allowzero: 1 }));
defineLowering('transpose', ({ b, inputs, node }) => b.op('Transpose', inputs, { perm: node.attrs.perm as readonly number[] }));
defineLowering('broadcastTo', ({ b, inputs, node }) => b.op('Expand', [inputs[0], b.int64s(node.shape)]));
defineLowering('concat', ({ b, inputs, node }) => b.op('Concat', inputs, { axis: Number(node.attrs.axis) }));

defineLowering('slice', ({ b, inputs, node, inputInfo }) => {
  const starts = node.attrs.starts as readonly number[];
  const ends = node.attrs.ends as readonly number[];
  const axes: number[] = [];
  inputInfo[0].shape.forEach((d, i) => {
    if (starts[i] !== 0 || ends[i] !== d) axes.push(i);
  });
  if (axes.length === 0) return b.op('Identity', inputs);
  return b.op('Slice', [inputs[0], b.int64s(axes.map((a) => starts[a])), b.int64s(axes.map((a) => ends[a])), b.int64s(axes)]);
});

defineLowering('pad', ({ b, inputs, node }) => {
  const before = node.attrs.before as readonly number[];
  const after = node.attrs.after as readonly number[];
  if ([...before, ...after].every((p) => p === 0)) return b.op('Identity', inputs);
  return b.op('Pad', [inputs[0], b.int64s([...before, ...after])], { mode: 'constant' });
});

// ---- sources ---------------------------------------------------------------

defineLowering('constant', ({ b, node }) => b.constant(node.attrs.values as Float64Array, node.shape, onnxDataType(node.dtype)));

defineLowering('fill', ({ b, node }) => {
  const value = Number(node.attrs.value);
  const type = onnxDataType(node.dtype);
  const n = numel(node.shape);
  if (n <= 16) return b.constant(new Array<number>(n).fill(value), node.shape, type);
  // ConstantOfShape takes its fill value as a one-element tensor attribute.
  const valueTensor = { name: '', dataType: type, dims: [1], data: encodeValues([value], type) };
  return b.op('ConstantOfShape', [b.int64s(node.shape)], { value: { kind: 'tensor', value: valueTensor } });
});

defineLowering('arange', ({ b, node }) => {
  const start = Number(node.attrs.start);
  const step = Number(node.attrs.step);
  const n = node.shape[0];
  const type = onnxDataType(node.dtype);
  if (n <= 16 || (node.dtype !== 'f32' && node.dtype !== 'i32')) {
    return b.constant(Array.from({ length: n }, (_, i) => start + i * step), [n], type);
  }
  // Range keeps long index vectors (vocabulary one-hots) out of the model file.
  const stop = start + n * step;
  return b.op('Range', [b.scalar(start, type), b.scalar(stop, type), b.scalar(step, type)]);
});
