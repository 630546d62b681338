import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { WgslProgram } from './program.js';

export const INT_BINARY_KERNEL = 'LowrankIntBinary';

/** WGSL expression of each integer op on i32 `a`, `b` (WGSL i32 +, -, * wrap; / truncates). */
const INT_OPS: Readonly<Record<string, string>> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'select(0, a / b, b != 0)',
  maximum: 'max(a, b)',
  minimum: 'min(a, b)',
  equal: 'i32(a == b)',
  notEqual: 'i32(a != b)',
  less: 'i32(a < b)',
  lessEqual: 'i32(a <= b)',
  greater: 'i32(a > b)',
  greaterEqual: 'i32(a >= b)',
};

export const INT_BINARY_OPS: ReadonlySet<string> = new Set(Object.keys(INT_OPS));

export interface IntBinaryAttrs {
  op: string;
  /** Wrap results to 0..255 (core's u8 arithmetic). */
  wrapU8: boolean;
  outShape: number[];
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Offsets of a broadcast input, unrolled with the (static) strides baked into the shader. */
function broadcastIndexCode(name: string, inShape: readonly number[], outShape: readonly number[]): string {
  const os = strides(outShape);
  const is = strides(inShape);
  const lead = outShape.length - inShape.length;
  const terms: string[] = [];
  for (let d = 0; d < outShape.length; d++) {
    const k = d - lead;
    if (k < 0 || inShape[k] === 1) continue;
    terms.push(`((index / ${os[d]}) % ${outShape[d]}) * ${is[k]}`);
  }
  return `let ${name} = ${terms.length ? terms.join(' + ') : '0'};`;
}

/**
 * Exact integer elementwise arithmetic and comparisons with broadcasting.
 * tfjs's own WebGPU binary kernels compute in f32, which loses integers past
 * 2^24 and does not wrap like core's i32 (and JavaScript's Math.imul).
 */
const intBinary: KernelFunc = ({ inputs, backend, attrs }) => {
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { op, wrapU8, outShape } = attrs as unknown as IntBinaryAttrs;
  const expr = INT_OPS[op];
  if (!expr) throw new Error(`LowrankIntBinary: unknown op '${op}'`);
  const comparison = expr.startsWith('i32(');
  const program = new WgslProgram({
    shaderKey: `lowrank_int_${op}_${wrapU8}_${a.shape.join('x')}_${b.shape.join('x')}_${outShape.join('x')}`,
    variableNames: ['lhs', 'rhs'],
    outputShape: outShape,
    body: `
      if (index < uniforms.size) {
        ${broadcastIndexCode('ia', a.shape, outShape)}
        ${broadcastIndexCode('ib', b.shape, outShape)}
        let a = lhs[ia];
        let b = rhs[ib];
        let r = ${expr};
        result[index] = ${wrapU8 && !comparison ? 'r & 255' : 'r'};
      }
    `,
  });
  return (backend as WebGPUBackend).runWebGPUProgram(program, [a, b], comparison ? 'bool' : 'int32');
};

export const intBinaryConfig: KernelConfig = { kernelName: INT_BINARY_KERNEL, backendName: 'webgpu', kernelFunc: intBinary };
