import { NDArray } from '../reference/ndarray.js';
import { numel } from '../shape.js';
import type { Tensor } from '../graph/tensor.js';
import { add, cast, concat, constant, fill, gather, matmul, mul, nf4Dequantize, reshape, sliceAxis, sum } from './emit.js';
import { defineOp, dtypeRule, shapeRule } from './registry.js';

/** bitsandbytes' NF4 code values (index 0..15): quantiles of N(0, 1) scaled to [-1, 1]. */
export const NF4_CODEBOOK: readonly number[] = Object.freeze([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/** bitsandbytes' FP4 (e2m1) code values, normalised by their maximum 12. */
export const FP4_CODEBOOK: readonly number[] = Object.freeze(
  [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3].map((v) => v / 12),
);


export type Nf4DequantizeAttrs = { shape: readonly number[]; blockSize: number; codebook: string };

export function codebookValues(codebook: string): readonly number[] {
  if (codebook === 'nf4') return NF4_CODEBOOK;
  if (codebook === 'fp4') return FP4_CODEBOOK;
  return shapeRule(`codebook must be 'nf4' or 'fp4', got '${codebook}'`);
}

/**
 * Dequantizes 4-bit block-quantized weights W [N, K] (bitsandbytes layout):
 * u8 `codes` [N·K/2] hold two codes per byte, the even element in the high
 * nibble; f32 `absmax` [N·K/blockSize] scales each block of `blockSize`
 * consecutive row-major elements. Not differentiable in the codes.
 */
defineOp<Nf4DequantizeAttrs>({
  name: 'nf4Dequantize',
  kind: 'primitive',
  infer: ([codes, absmax], a) => {
    if (codes.dtype !== 'u8') dtypeRule(`codes must be u8, got ${codes.dtype}`);
    if (absmax.dtype !== 'f32') dtypeRule(`absmax must be f32, got ${absmax.dtype}`);
    codebookValues(a.codebook);
    if (a.shape.length !== 2) shapeRule(`shape must be [N, K], got [${a.shape.join(', ')}]`);
    const n = numel(a.shape);
    if (!(Number.isInteger(a.blockSize) && a.blockSize > 0 && n % a.blockSize === 0)) shapeRule(`blockSize ${a.blockSize} must divide N·K = ${n}`);
    if (n % 2 !== 0) shapeRule(`N·K = ${n} must be even (two codes per byte)`);
    if (codes.shape.length !== 1 || codes.shape[0] !== n / 2) shapeRule(`codes must have shape [${n / 2}], got [${codes.shape.join(', ')}]`);
    if (absmax.shape.length !== 1 || absmax.shape[0] !== n / a.blockSize) {
      shapeRule(`absmax must have shape [${n / a.blockSize}], got [${absmax.shape.join(', ')}]`);
    }
    return { shape: [...a.shape], dtype: 'f32' };
  },
  reference: ([codes, absmax], a) => {
    const table = codebookValues(a.codebook);
    const n = numel(a.shape);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const byte = codes.data[i >> 1] & 0xff;
      const code = i % 2 === 0 ? byte >> 4 : byte & 0x0f;
      // Both factors are float32 values; their product is rounded once, as on a GPU.
      out[i] = Math.fround(table[code]) * absmax.data[Math.floor(i / a.blockSize)];
    }
    return new NDArray([...a.shape], 'f32', out);
  },
  // d W / d absmax: the unscaled code values of each block.
  vjp: ({ grad, inputs: [codes, absmax], attrs }) => {
    const unit = nf4Dequantize(codes, fill(codes.graph, absmax.shape, 1), attrs);
    const blocks = absmax.shape[0];
    return [null, sum(reshape(mul(grad, unit), [blocks, attrs.blockSize]), [1])];
  },
  flops: (_i, out) => numel(out.shape),
});

type MatmulNf4Attrs = Nf4DequantizeAttrs;

/**
 * x · dequant(W)ᵀ for a 4-bit quantized frozen weight W [N, K] (QLoRA's base
 * layer). Backends may fuse it (ORT MatMulBnb4 with transB=1); the expansion
 * dequantizes explicitly, which is also what the backward dY·W uses.
 */
defineOp<MatmulNf4Attrs>({
  name: 'matmulNf4',
  kind: 'composite',
  expand: ([x, codes, absmax], a) => {
    if (x.shape[x.rank - 1] !== a.shape[1]) shapeRule(`last axis of x (${x.shape[x.rank - 1]}) must equal K = ${a.shape[1]} of W [N, K]`);
    return matmul(x, nf4Dequantize(codes, absmax, a), { transB: true });
  },
  flops: ([x], _o, a) => 2 * (numel(x.shape) / a.shape[1]) * a.shape[0] * a.shape[1] + a.shape[0] * a.shape[1],
});

/**
 * bitsandbytes' signed 8-bit dynamic map (create_dynamic_map(signed=True,
 * max_exponent_bits=7, total_bits=8)): for each decade 10^(i-6), i = 0..6,
 * the midpoints of 2^i equal steps over [0.1, 1], with both signs, plus 0 and
 * 1; sorted. Values are float32, as bitsandbytes stores them.
 */
export function createDynamicMap(): Float64Array {
  const values: number[] = [];
  const exponentBits = 7;
  for (let i = 0; i < exponentBits; i++) {
    const items = 2 ** i + 1;
    const scale = Math.fround(10 ** (-(exponentBits - 1) + i));
    for (let j = 0; j + 1 < items; j++) {
      const lo = Math.fround(0.1 + (0.9 * j) / (items - 1));
      const hi = Math.fround(0.1 + (0.9 * (j + 1)) / (items - 1));
      const mean = Math.fround(Math.fround(lo + hi) / 2);
      values.push(Math.fround(scale * mean), -Math.fround(scale * mean));
    }
  }
  values.push(0, 1);
  return Float64Array.from(values.sort((p, q) => p - q));
}

/** The 256 values an 8-bit code of a double-quantized absmax stands for. */
export const DYNAMIC_MAP_8BIT: Readonly<Float64Array> = createDynamicMap();

type DequantizeDynamic8Attrs = { blockSize: number };

/**
 * Double quantization (QLoRA): the f32 absmax constants of the 4-bit blocks
 * are stored as u8 codes into the dynamic map, one f32 scale per `blockSize`
 * (256) codes, plus one f32 offset (their mean, subtracted before quantizing).
 * absmax[i] = map[codes[i]] · scale[⌊i / blockSize⌋] + offset.
 */
defineOp<DequantizeDynamic8Attrs>({
  name: 'dequantizeDynamic8',
  kind: 'composite',
  expand: ([codes, scale, offset], a) => {
    if (codes.dtype !== 'u8') dtypeRule(`codes must be u8, got ${codes.dtype}`);
    if (codes.rank !== 1) shapeRule(`codes must be a vector, got [${codes.shape.join(', ')}]`);
    const n = codes.shape[0];
    const blocks = Math.ceil(n / a.blockSize);
    if (scale.rank !== 1 || scale.shape[0] !== blocks) shapeRule(`scale must have shape [${blocks}] (one per ${a.blockSize} codes), got [${scale.shape.join(', ')}]`);
    if (offset.rank !== 0) shapeRule(`offset must be a scalar, got [${offset.shape.join(', ')}]`);
    const unit = gather(constant(codes.graph, DYNAMIC_MAP_8BIT, [256]), cast(codes, 'i32'));
    // Each scale broadcast over its block by a reshape (no index constant the size of the codes: those
    // cost seconds per weight to build and encode at 1B scale); a last, partial block on its own.
    const whole = Math.floor(n / a.blockSize);
    const parts: Tensor[] = [];
    if (whole > 0) {
      const head = whole * a.blockSize === n ? unit : sliceAxis(unit, 0, 0, whole * a.blockSize);
      const scales = whole === blocks ? scale : sliceAxis(scale, 0, 0, whole);
      parts.push(reshape(mul(reshape(head, [whole, a.blockSize]), reshape(scales, [whole, 1])), [whole * a.blockSize]));
    }
    if (whole < blocks) parts.push(mul(sliceAxis(unit, 0, whole * a.blockSize, n), sliceAxis(scale, 0, whole, blocks)));
    return add(parts.length === 1 ? parts[0] : concat(parts, 0), offset);
  },
});

export { dequantizeDynamic8, matmulNf4, nf4Dequantize, type FourBitCodebook } from './emit.js';
