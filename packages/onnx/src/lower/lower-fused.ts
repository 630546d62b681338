import { numel } from '@lowrank/core';
import { OnnxDataType } from '../model/onnx-types.js';
import { floatAttr } from './onnx-builder.js';
import { defineFusedLowering } from './lowering-registry.js';

/*
 * Composites with a good single kernel in ONNX or ORT's contrib domain. Each is
 * tested against the lowering of its expansion (fused.test.ts).
 */

defineFusedLowering('layerNorm', ({ b, inputs, node }) =>
  b.op('LayerNormalization', inputs, { axis: -1, epsilon: floatAttr(Number(node.attrs.eps)) }),
);

// ORT registers SimplifiedLayerNormalization (RMS norm) in the default domain.
defineFusedLowering('rmsNorm', ({ b, inputs, node }) =>
  b.op('SimplifiedLayerNormalization', inputs, { axis: -1, epsilon: floatAttr(Number(node.attrs.eps)) }),
);

defineFusedLowering('gelu', ({ b, inputs, node }) =>
  node.attrs.approximate === 'tanh' ? b.op('FastGelu', inputs, {}, { domain: 'com.microsoft' }) : b.op('Gelu', inputs, {}, { domain: 'com.microsoft' }),
);

/**
 * Mean cross-entropy over non-ignored labels: SoftmaxCrossEntropyLoss summed,
 * divided by max(count, 1) so an all-ignored batch gives 0 as the reference does.
 */
defineFusedLowering('crossEntropy', ({ b, inputs, inputInfo, node }) => {
  const [logits, labels] = inputInfo;
  const vocab = logits.shape[logits.shape.length - 1];
  const rows = numel(labels.shape);
  const ignore = Number(node.attrs.ignoreIndex);
  const flatLogits = b.op('Reshape', [inputs[0], b.int64s([rows, vocab])]);
  const flatLabels = b.op('Reshape', [inputs[1], b.int64s([rows])]);
  const total = b.op('SoftmaxCrossEntropyLoss', [flatLogits, flatLabels], { reduction: 'sum', ignore_index: ignore });
  const valid = b.op('Cast', [b.op('Not', [b.op('Equal', [flatLabels, b.scalar(ignore, OnnxDataType.INT32)])])], { to: OnnxDataType.FLOAT });
  const count = b.op('Max', [b.op('ReduceSum', [valid, b.int64s([0])], { keepdims: 0 }), b.scalar(1, OnnxDataType.FLOAT)]);
  return b.op('Div', [total, count]);
});

/**
 * x · Wᵀ with W NF4/FP4-packed as bitsandbytes stores it: ORT's MatMulBnb4.
 * Only with transB = 1 (its CPU kernel is wrong for transB = 0, see
 * ENVIRONMENT.md); the backward dequantizes explicitly through the expansion.
 */
defineFusedLowering('matmulNf4', ({ b, inputs, node }) => {
  const [n, k] = node.attrs.shape as readonly number[];
  const quantType = node.attrs.codebook === 'fp4' ? 0 : 1;
  return b.op('MatMulBnb4', inputs, { K: k, N: n, block_size: Number(node.attrs.blockSize), quant_type: quantType, transB: 1 }, { domain: 'com.microsoft' });
});
