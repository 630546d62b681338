import { numel, type DType, type Graph, type NodeData } from '@lowrank/core';
import { OnnxDataType } from '../model/onnx-types.js';
import type { OnnxBuilder } from './onnx-builder.js';
import { dequantizeCodes, nf4PairLookup } from './lower-quant.js';
import { FOLD_LIMIT_ELEMENTS, gateCondition, gateValue } from './recompute-order.js';

/*
 * A frozen weight upcast or dequantized for one matmul (a bf16 base read by
 * the forward, a 4-bit weight remade for the backward dY·W) would be a whole
 * f32 copy: 46 MB for a 1.1B model's MLP weight, plus the dequantization's
 * index and lookup buffers. ORT's allocation planner hands a dead buffer to
 * the next value of the same shape, and frees it only after the last value in
 * that chain: those buffers were held from the first layer's backward to the
 * last one's, idle while checkpointed segments were recomputed in between
 * (measured: 235 MB of a 4-layer 1.1B-width QLoRA step's 660 MB). Made and
 * consumed one block of output columns at a time, the weight never exists
 * whole, and what ORT keeps for reuse is one block's worth.
 */

/**
 * Elements of the weight per block of output columns: 24 MiB as f32 for an
 * upcast (a 1.1B model's MLP weight in 2 blocks), 8 MiB for a dequantization,
 * whose index and lookup buffers cost 2.5x the block. Fewer, larger blocks
 * keep ORT's session creation fast (it grows faster than the node count).
 */
export const UPCAST_BLOCK_ELEMENTS = 6 << 20;
export const DEQUANT_BLOCK_ELEMENTS = 2 << 20;

export interface BlockElements {
  readonly upcast?: number;
  readonly dequant?: number;
}

/** A weight producer lowered block by block inside its one consumer, a matmul. */
export interface ChunkedWeight {
  readonly producer: string;
  readonly matmul: string;
}

const isUpcast = (graph: Graph, n: NodeData): boolean =>
  n.op === 'cast' && n.dtype === 'f32' && n.inputs.length === 1 && ['bf16', 'f16'].includes(graph.node(n.inputs[0]).dtype);

/**
 * Producers of large 2-D f32 weights made from constants only (nf4Dequantize,
 * or a 16-bit → f32 cast) whose only consumer is a matmul reading them as its
 * second operand: each is lowered inside that matmul, block by block.
 * `gateDeps`: nodes others are ordered after; those must stay whole values.
 */
export function chunkedWeights(graph: Graph, order: readonly string[], constants: ReadonlySet<string>, gateDeps: ReadonlySet<string>): Map<string, ChunkedWeight> {
  const inOrder = new Set(order);
  const graphOutputs = new Set(graph.outputs.values());
  const out = new Map<string, ChunkedWeight>();
  for (const id of order) {
    const n = graph.node(id);
    if (!constants.has(id) || gateDeps.has(id) || graphOutputs.has(id) || n.shape.length !== 2 || numel(n.shape) < FOLD_LIMIT_ELEMENTS) continue;
    if (n.op !== 'nf4Dequantize' && !isUpcast(graph, n)) continue;
    const users = [...new Set(graph.consumers(id).filter((c) => inOrder.has(c)))];
    if (users.length !== 1) continue;
    const m = graph.node(users[0]);
    if (m.op !== 'matmul' || m.attrs.transA || m.inputs[1] !== id || m.inputs[0] === id) continue;
    // Blocks of columns of a 4-bit weight need whole quantization blocks (and bytes) in every row.
    const cols = n.shape[1];
    if (n.op === 'nf4Dequantize' && !m.attrs.transB && (cols % Number(n.attrs.blockSize) !== 0 || cols % 2 !== 0)) continue;
    out.set(id, { producer: id, matmul: users[0] });
  }
  return out;
}

/**
 * Output columns per block: a whole number of quantization blocks (and bytes),
 * about UPCAST_ or DEQUANT_BLOCK_ELEMENTS of the weight. `span`: the weight's extent along
 * the other axis; `extent`: along the blocked one.
 */
function blockWidth(producer: NodeData, span: number, extent: number, alongColumns: boolean, sizes: BlockElements): number {
  let unit = 1;
  if (producer.op === 'nf4Dequantize') {
    const bs = Number(producer.attrs.blockSize);
    const cols = producer.shape[1];
    // Column blocks must hold whole absmax blocks of each row; row blocks whole blocks of the flat layout.
    while (alongColumns ? unit % bs !== 0 || unit % 2 !== 0 : (unit * cols) % bs !== 0 || (unit * cols) % 2 !== 0) unit++;
  }
  const block = producer.op === 'nf4Dequantize' ? (sizes.dequant ?? DEQUANT_BLOCK_ELEMENTS) : (sizes.upcast ?? UPCAST_BLOCK_ELEMENTS);
  return Math.min(extent, Math.max(unit, Math.floor(block / span / unit) * unit));
}

/**
 * f32 W[r0:r1, :] (rows) or W[:, r0:r1] (alongColumns) of the producer's
 * weight, from its (gated) inputs; each slice is gated on `cond` when given.
 */
function weightBlock(
  b: OnnxBuilder,
  producer: NodeData,
  sourceDtype: DType,
  inputs: readonly string[],
  r0: number,
  r1: number,
  alongColumns: boolean,
  cond: string | undefined,
): string {
  const [rows, cols] = producer.shape;
  // A slice of the last axis (or of `axis`) of x, whose shape is `from`; x gated on `cond` first
  // (an alias but for f32, whose Where copies), so ORT cannot fuse the blocks' slices into one Split.
  const slice = (x: string, start: number, end: number, from: readonly number[], dtype: DType, axis = from.length - 1) => {
    if (start === 0 && end === from[axis] && !cond) return x; // one block: the whole input
    const src = cond ? gateValue(b, x, cond, from, dtype, dtype !== 'f32') : x;
    return b.op('Slice', [src, b.int64s([start]), b.int64s([end]), b.int64s([axis])]);
  };
  if (producer.op !== 'nf4Dequantize') {
    return b.op('Cast', [slice(inputs[0], r0, r1, [rows, cols], sourceDtype, alongColumns ? 1 : 0)], { to: OnnxDataType.FLOAT });
  }
  const bs = Number(producer.attrs.blockSize);
  const codebook = String(producer.attrs.codebook);
  if (!alongColumns) {
    const codes = slice(inputs[0], (r0 * cols) / 2, (r1 * cols) / 2, [(rows * cols) / 2], 'u8');
    const absmax = slice(inputs[1], (r0 * cols) / bs, (r1 * cols) / bs, [(rows * cols) / bs], 'f32');
    return dequantizeCodes(b, codes, absmax, codebook, (r1 - r0) * cols, bs, [r1 - r0, cols]);
  }
  const w = r1 - r0;
  const codes = slice(b.op('Reshape', [inputs[0], b.int64s([rows, cols / 2])]), r0 / 2, r1 / 2, [rows, cols / 2], 'u8');
  const absmax = slice(b.op('Reshape', [inputs[1], b.int64s([rows, cols / bs])]), r0 / bs, r1 / bs, [rows, cols / bs], 'f32');
  const values = b.op('Reshape', [nf4PairLookup(b, codes, codebook), b.int64s([rows, w / bs, bs])]);
  const scaled = b.op('Mul', [values, b.op('Reshape', [absmax, b.int64s([rows, w / bs, 1])])]);
  return b.op('Reshape', [scaled, b.int64s([rows, w])]);
}

/**
 * x · W or x · Wᵀ (transB) for W [N, K], one block of output columns at a
 * time (columns of W, or rows of W with transB), concatenated. Each dot
 * product is computed whole, so the result equals the unblocked product. Each
 * block's weight inputs are gated on the previous block's product: ORT cannot
 * make every block's weight first and hold them all.
 */
export function lowerChunkedWeightMatmul(
  b: OnnxBuilder,
  matmul: NodeData,
  x: string,
  producer: NodeData,
  sourceDtype: DType,
  producerInputs: readonly string[],
  contrib: boolean,
  sizes: BlockElements = {},
): string {
  const [rows, cols] = producer.shape;
  const transB = Boolean(matmul.attrs.transB);
  const extent = transB ? rows : cols;
  const width = blockWidth(producer, transB ? cols : rows, extent, !transB, sizes);
  const parts: string[] = [];
  for (let c0 = 0; c0 < extent; c0 += width) {
    const c1 = Math.min(extent, c0 + width);
    const cond = parts.length > 0 ? gateCondition(b, parts[parts.length - 1]) : undefined;
    const w = weightBlock(b, producer, sourceDtype, producerInputs, c0, c1, !transB, cond);
    if (!transB) parts.push(b.op('MatMul', [x, w]));
    else parts.push(contrib ? b.op('FusedMatMul', [x, w], { transA: 0, transB: 1 }, { domain: 'com.microsoft' }) : b.op('MatMul', [x, b.op('Transpose', [w], { perm: [1, 0] })]));
  }
  return parts.length === 1 ? parts[0] : b.op('Concat', parts, { axis: -1 });
}
