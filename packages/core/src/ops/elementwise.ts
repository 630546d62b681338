import { castScalar, isHalfFloat, type DType } from '../dtype.js';
import { mapBroadcast, type NDArray } from '../reference/ndarray.js';
import { broadcastShapes, formatShape } from '../shape.js';
import { cast, cos, div, exp, greater, greaterEqual, lessEqual, mul, neg, pow, sin, sub, sumToShape, where } from './emit.js';
import { defineOp, dtypeRule, shapeRule, type ValueInfo, type VjpFn } from './registry.js';

// ---- unary ----------------------------------------------------------------

const floatOnly = (name: string) => (inputs: readonly ValueInfo[]): ValueInfo => {
  if (inputs[0].dtype !== 'f32') dtypeRule(`${name} needs f32 input, got ${inputs[0].dtype}`);
  return inputs[0];
};

function unary(name: string, f: (x: number) => number, vjp: VjpFn): void {
  defineOp({
    name,
    kind: 'primitive',
    infer: floatOnly(name),
    reference: ([x]: readonly NDArray[]) => mapBroadcast([x], x.dtype, f),
    vjp,
  });
}

unary('neg', (x) => -x, ({ grad }) => [neg(grad)]);
unary('exp', Math.exp, ({ grad, output }) => [mul(grad, output)]);
unary('log', Math.log, ({ grad, inputs }) => [div(grad, inputs[0])]);
unary('sqrt', Math.sqrt, ({ grad, output }) => [div(mul(grad, 0.5), output)]);
unary('rsqrt', (x) => 1 / Math.sqrt(x), ({ grad, output, inputs }) => [mul(mul(grad, -0.5), div(output, inputs[0]))]);
unary('tanh', Math.tanh, ({ grad, output }) => [mul(grad, sub(1, mul(output, output)))]);
unary('sigmoid', (x) => 1 / (1 + Math.exp(-x)), ({ grad, output }) => [mul(grad, mul(output, sub(1, output)))]);
unary('relu', (x) => (x > 0 ? x : 0), ({ grad, inputs }) => [where(greater(inputs[0], 0), grad, 0)]);
unary('sin', Math.sin, ({ grad, inputs }) => [mul(grad, cos(inputs[0]))]);
unary('cos', Math.cos, ({ grad, inputs }) => [neg(mul(grad, sin(inputs[0])))]);
unary('erf', erfScalar, ({ grad, inputs }) => [mul(grad, mul(exp(neg(mul(inputs[0], inputs[0]))), 2 / Math.sqrt(Math.PI)))]);

defineOp<{ exponent: number }>({
  name: 'pow',
  kind: 'primitive',
  infer: floatOnly('pow'),
  reference: ([x], a) => mapBroadcast([x], x.dtype, (v) => Math.pow(v, a.exponent)),
  // x^0 is constant: no gradient (the general rule would give 0·x^-1, NaN at x = 0).
  vjp: ({ grad, inputs, attrs }) => [attrs.exponent === 0 ? null : mul(grad, mul(pow(inputs[0], attrs.exponent - 1), attrs.exponent))],
});

// ---- binary ---------------------------------------------------------------

function binaryInfer(name: string, allowInt: boolean, outDtype?: DType) {
  return (inputs: readonly ValueInfo[]): ValueInfo => {
    const [a, b] = inputs;
    if (a.dtype !== b.dtype) dtypeRule(`${name} needs operands of one dtype, got ${a.dtype} and ${b.dtype}`);
    if (a.dtype === 'bool' && !outDtype) dtypeRule(`${name} is not defined on bool`);
    if (!allowInt && a.dtype !== 'f32') dtypeRule(`${name} needs f32 operands, got ${a.dtype}`);
    const shape = broadcastShapes(a.shape, b.shape);
    if (!shape) shapeRule(`shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} do not broadcast`);
    return { shape: shape!, dtype: outDtype ?? a.dtype };
  };
}

function binary(name: string, allowInt: boolean, f: (a: number, b: number, dtype: DType) => number, vjp: VjpFn): void {
  defineOp({
    name,
    kind: 'primitive',
    infer: binaryInfer(name, allowInt),
    reference: ([a, b]) => mapBroadcast([a, b], a.dtype, (x, y) => f(x, y, a.dtype)),
    vjp,
  });
}

const int32 = (v: number, dtype: DType) => (dtype === 'i32' ? v | 0 : dtype === 'u8' ? v & 0xff : v);

binary('add', true, (a, b, d) => int32(a + b, d), ({ grad, inputs, needs }) => [
  needs[0] ? sumToShape(grad, inputs[0].shape) : null,
  needs[1] ? sumToShape(grad, inputs[1].shape) : null,
]);
binary('sub', true, (a, b, d) => int32(a - b, d), ({ grad, inputs, needs }) => [
  needs[0] ? sumToShape(grad, inputs[0].shape) : null,
  needs[1] ? sumToShape(neg(grad), inputs[1].shape) : null,
]);
binary('mul', true, (a, b, d) => (d === 'i32' ? Math.imul(a, b) : int32(a * b, d)), ({ grad, inputs: [a, b], needs }) => [
  needs[0] ? sumToShape(mul(grad, b), a.shape) : null,
  needs[1] ? sumToShape(mul(grad, a), b.shape) : null,
]);
binary('div', true, (a, b, d) => (d === 'f32' ? a / b : int32(Math.trunc(a / b), d)), ({ grad, inputs: [a, b], needs }) => [
  needs[0] ? sumToShape(div(grad, b), a.shape) : null,
  needs[1] ? sumToShape(neg(div(mul(grad, a), mul(b, b))), b.shape) : null,
]);
binary('maximum', true, (a, b) => Math.max(a, b), ({ grad, inputs: [a, b], needs }) => {
  const aWins = greaterEqual(a, b);
  return [needs[0] ? sumToShape(where(aWins, grad, 0), a.shape) : null, needs[1] ? sumToShape(where(aWins, 0, grad), b.shape) : null];
});
binary('minimum', true, (a, b) => Math.min(a, b), ({ grad, inputs: [a, b], needs }) => {
  const aWins = lessEqual(a, b);
  return [needs[0] ? sumToShape(where(aWins, grad, 0), a.shape) : null, needs[1] ? sumToShape(where(aWins, 0, grad), b.shape) : null];
});

function comparison(name: string, f: (a: number, b: number) => boolean): void {
  defineOp({
    name,
    kind: 'primitive',
    infer: binaryInfer(name, true, 'bool'),
    reference: ([a, b]) => mapBroadcast([a, b], 'bool', (x, y) => (f(x, y) ? 1 : 0)),
  });
}
comparison('equal', (a, b) => a === b);
comparison('notEqual', (a, b) => a !== b);
comparison('less', (a, b) => a < b);
comparison('lessEqual', (a, b) => a <= b);
comparison('greater', (a, b) => a > b);
comparison('greaterEqual', (a, b) => a >= b);

function logical(name: string, f: (a: boolean, b: boolean) => boolean): void {
  defineOp({
    name,
    kind: 'primitive',
    infer: (inputs) => {
      if (inputs.some((i) => i.dtype !== 'bool')) dtypeRule(`${name} needs bool operands`);
      return binaryInfer(name, true, 'bool')(inputs);
    },
    reference: ([a, b]) => mapBroadcast([a, b], 'bool', (x, y) => (f(x !== 0, y !== 0) ? 1 : 0)),
  });
}
logical('logicalAnd', (a, b) => a && b);
logical('logicalOr', (a, b) => a || b);

defineOp({
  name: 'where',
  kind: 'primitive',
  infer: ([c, a, b]) => {
    if (c.dtype !== 'bool') dtypeRule(`condition must be bool, got ${c.dtype}`);
    if (a.dtype !== b.dtype) dtypeRule(`branches must share a dtype, got ${a.dtype} and ${b.dtype}`);
    const s1 = broadcastShapes(c.shape, a.shape);
    const shape = s1 && broadcastShapes(s1, b.shape);
    if (!shape) shapeRule('condition and branches do not broadcast');
    return { shape: shape!, dtype: a.dtype };
  },
  reference: ([c, a, b]) => mapBroadcast([c, a, b], a.dtype, (cv, x, y) => (cv !== 0 ? x : y)),
  vjp: ({ grad, inputs: [c, a, b], needs }) => [
    null,
    needs[1] ? sumToShape(where(c, grad, 0), a.shape) : null,
    needs[2] ? sumToShape(where(c, 0, grad), b.shape) : null,
  ],
});

defineOp<{ dtype: string }>({
  name: 'cast',
  kind: 'primitive',
  infer: ([x], a) => {
    const to = a.dtype as DType;
    // 16-bit floats are storage only: they convert to and from f32, nothing else.
    if ((isHalfFloat(x.dtype) || isHalfFloat(to)) && x.dtype !== to && x.dtype !== 'f32' && to !== 'f32') {
      dtypeRule(`${x.dtype} converts only to or from f32, not to ${to}; cast through f32`);
    }
    return { shape: x.shape, dtype: to };
  },
  reference: ([x], a) => mapBroadcast([x], a.dtype as DType, (v) => castValue(v, a.dtype as DType)),
  // Float-to-float casts carry a gradient; to a 16-bit input it goes back at the input's storage dtype.
  vjp: ({ grad, inputs: [x], attrs }) => {
    const to = attrs.dtype as DType;
    const floaty = (d: DType) => d === 'f32' || isHalfFloat(d);
    if (!floaty(x.dtype) || !floaty(to)) return [null];
    return [x.dtype === to ? grad : cast(grad, x.dtype)];
  },
});

function castValue(v: number, dtype: DType): number {
  if (dtype === 'bool') return v !== 0 ? 1 : 0;
  if (dtype === 'i32') return Math.trunc(v) | 0;
  if (dtype === 'u8') return Math.trunc(v) & 0xff;
  if (isHalfFloat(dtype)) return castScalar(v, dtype);
  return v;
}

defineOp({
  name: 'stopGradient',
  kind: 'primitive',
  infer: ([x]) => x,
  reference: ([x]) => x,
  vjp: () => [null],
});

// ---- public functions: the thin wrappers, re-exported -----------------------

export {
  add, broadcastLike, cast, cos, div, equal, erf, exp, greater, greaterEqual, less, lessEqual, log, logicalAnd, logicalOr,
  maximum, minimum, mul, neg, notEqual, pow, relu, rsqrt, sigmoid, sin, sqrt, square, stopGradient, sub, sumToShape, tanh, where,
  type TensorLike,
} from './emit.js';

// ---- float64 erf ----------------------------------------------------------

/** erf to ~1e-15: Taylor series near 0, continued fraction for erfc in the tails. */
export function erfScalar(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = x;
    let total = x;
    const x2 = x * x;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      total += add;
      if (Math.abs(add) < 1e-17 * Math.abs(total)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * total;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), evaluated bottom-up.
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}
