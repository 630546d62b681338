import { numel } from '@lowrank/core';
import { OnnxDataType } from '../model/onnx-types.js';
import { defineLowering } from './lowering-registry.js';
import type { OnnxBuilder } from './onnx-builder.js';

/*
 * The counter-based RNG of core/rng/counter-hash.ts in ONNX integer ops.
 * Words live in int64 holding values in [0, 2^32): shifts become exact
 * divisions, and the 32-bit wrapping multiply is split into 16-bit halves so
 * no intermediate leaves int64's range. Results are bit-identical to mix32.
 */

const I64 = OnnxDataType.INT64;
const MASK32 = 0xffffffff;

function c64(b: OnnxBuilder, v: number): string {
  return b.scalar(v, I64);
}

function shiftRight(b: OnnxBuilder, x: string, bits: number): string {
  return b.op('Div', [x, c64(b, 2 ** bits)]);
}

const xor = (b: OnnxBuilder, x: string, y: string): string => b.op('BitwiseXor', [x, y]);
const and = (b: OnnxBuilder, x: string, m: number): string => b.op('BitwiseAnd', [x, c64(b, m)]);

/** (x * c) mod 2^32 for x, c in [0, 2^32), without int64 overflow. */
function mulMod32(b: OnnxBuilder, x: string, c: number): string {
  const lo = and(b, x, 0xffff);
  const hi = shiftRight(b, x, 16);
  const loProduct = b.op('Mul', [lo, c64(b, c)]);
  const hiProduct = and(b, b.op('Mul', [hi, c64(b, c)]), 0xffff);
  const sum = b.op('Add', [loProduct, b.op('Mul', [hiProduct, c64(b, 65536)])]);
  return and(b, sum, MASK32);
}

/** mix32 of core/rng/counter-hash.ts on int64 words in [0, 2^32). */
export function mix32Onnx(b: OnnxBuilder, x0: string): string {
  let x = xor(b, x0, shiftRight(b, x0, 16));
  x = mulMod32(b, x, 0x7feb352d);
  x = xor(b, x, shiftRight(b, x, 15));
  x = mulMod32(b, x, 0x846ca68b);
  return xor(b, x, shiftRight(b, x, 16));
}

/** An i32 scalar as its unsigned 32-bit word in int64. */
function word(b: OnnxBuilder, i32: string): string {
  return and(b, b.op('Cast', [i32], { to: I64 }), MASK32);
}

defineLowering('randomUniform', ({ b, inputs, node }) => {
  const [seed, step] = inputs.map((n) => word(b, n));
  const key = Number(node.attrs.key) >>> 0;
  const s1 = mix32Onnx(b, xor(b, seed, c64(b, 0x5bd1e995)));
  const s2 = mix32Onnx(b, xor(b, s1, step));
  const stream = mix32Onnx(b, xor(b, s2, c64(b, key)));
  const n = numel(node.shape);
  const index = b.op('Range', [c64(b, 0), c64(b, n), c64(b, 1)]);
  const bits = mix32Onnx(b, xor(b, stream, mix32Onnx(b, index)));
  const top24 = b.op('Cast', [shiftRight(b, bits, 8)], { to: OnnxDataType.FLOAT });
  const uniform = b.op('Mul', [top24, b.scalar(1 / 16777216, OnnxDataType.FLOAT)]);
  return b.op('Reshape', [uniform, b.int64s(node.shape)], { allowzero: 1 });
});
