import type { DType } from '@lowrank/core';
import { OnnxDataType } from '../model/onnx-types.js';
import { onnxDataType } from './dtypes.js';
import { defineLowering, type LowerContext } from './lowering-registry.js';
import type { OnnxBuilder } from './onnx-builder.js';

const unaryOps: Record<string, string> = {
  neg: 'Neg',
  exp: 'Exp',
  log: 'Log',
  sqrt: 'Sqrt',
  tanh: 'Tanh',
  sigmoid: 'Sigmoid',
  relu: 'Relu',
  sin: 'Sin',
  cos: 'Cos',
  erf: 'Erf',
};
for (const [op, onnx] of Object.entries(unaryOps)) defineLowering(op, ({ b, inputs }) => b.op(onnx, inputs));

defineLowering('rsqrt', ({ b, inputs }) => b.op('Reciprocal', [b.op('Sqrt', inputs)]));
defineLowering('pow', ({ b, inputs, node }) => b.op('Pow', [inputs[0], b.scalar(Number(node.attrs.exponent), OnnxDataType.FLOAT)]));
defineLowering('stopGradient', ({ b, inputs }) => b.op('Identity', inputs));

/** ORT's arithmetic kernels skip uint8 and bool: compute those in int32 and cast back. */
function widened(b: OnnxBuilder, name: string, dtype: DType): string {
  return dtype === 'u8' || dtype === 'bool' ? b.op('Cast', [name], { to: OnnxDataType.INT32 }) : name;
}

function arithmetic(onnx: string) {
  return ({ b, inputs, inputInfo, node }: LowerContext): string => {
    const dtype = inputInfo[0].dtype;
    if (dtype !== 'u8') return b.op(onnx, inputs);
    const r = b.op(onnx, inputs.map((n) => widened(b, n, dtype)));
    return b.op('Cast', [r], { to: onnxDataType(node.dtype) });
  };
}
defineLowering('add', arithmetic('Add'));
defineLowering('sub', arithmetic('Sub'));
defineLowering('mul', arithmetic('Mul'));
defineLowering('div', arithmetic('Div'));
defineLowering('maximum', arithmetic('Max'));
defineLowering('minimum', arithmetic('Min'));

function comparison(onnx: string, negate = false) {
  return ({ b, inputs, inputInfo }: LowerContext): string => {
    const r = b.op(onnx, inputs.map((n) => widened(b, n, inputInfo[0].dtype)));
    return negate ? b.op('Not', [r]) : r;
  };
}
defineLowering('equal', comparison('Equal'));
defineLowering('notEqual', comparison('Equal', true));
defineLowering('less', comparison('Less'));
defineLowering('lessEqual', comparison('LessOrEqual'));
defineLowering('greater', comparison('Greater'));
defineLowering('greaterEqual', comparison('GreaterOrEqual'));
defineLowering('logicalAnd', ({ b, inputs }) => b.op('And', inputs));
defineLowering('logicalOr', ({ b, inputs }) => b.op('Or', inputs));

defineLowering('where', ({ b, inputs, inputInfo, node }) => {
  if (node.dtype === 'f32' || node.dtype === 'i32') return b.op('Where', inputs);
  const r = b.op('Where', [inputs[0], widened(b, inputs[1], inputInfo[1].dtype), widened(b, inputs[2], inputInfo[2].dtype)]);
  return b.op('Cast', [r], { to: onnxDataType(node.dtype) });
});

defineLowering('cast', ({ b, inputs, inputInfo, node }) => {
  const from = inputInfo[0].dtype;
  const to = node.dtype;
  if (from === to) return b.op('Identity', inputs);
  // float -> u8 wraps modulo 256 like the reference only when it passes through int32 first.
  if (from === 'f32' && to === 'u8') return b.op('Cast', [b.op('Cast', inputs, { to: OnnxDataType.INT32 })], { to: OnnxDataType.UINT8 });
  return b.op('Cast', inputs, { to: onnxDataType(to) });
});
