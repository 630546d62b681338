import { bf16BitsToNumber, castScalar, f16BitsToNumber, numberToBf16Bits, numberToF16Bits, type DType, type HostData } from '../dtype.js';
import { broadcastShapes, numel, stridesOf, type Shape } from '../shape.js';

/** A dense row-major float64 array: the value type of the reference evaluator. */
export class NDArray {
  readonly size: number;
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    readonly data: Float64Array,
  ) {
    this.size = numel(shape);
    if (data.length !== this.size) throw new Error(`NDArray: ${data.length} values for shape [${shape.join(', ')}]`);
  }

  static zeros(shape: Shape, dtype: DType = 'f32'): NDArray {
    return new NDArray([...shape], dtype, new Float64Array(numel(shape)));
  }

  static from(shape: Shape, values: ArrayLike<number>, dtype: DType = 'f32'): NDArray {
    return new NDArray([...shape], dtype, Float64Array.from(values));
  }

  static scalar(v: number, dtype: DType = 'f32'): NDArray {
    return new NDArray([], dtype, Float64Array.of(v));
  }

  /** Copies host data of any typed array into float64 (bf16/f16 data are raw bits, decoded here). */
  static fromHost(shape: Shape, dtype: DType, data: HostData): NDArray {
    if (dtype === 'bf16') return new NDArray([...shape], dtype, Float64Array.from(data, bf16BitsToNumber));
    if (dtype === 'f16') return new NDArray([...shape], dtype, Float64Array.from(data, f16BitsToNumber));
    return new NDArray([...shape], dtype, Float64Array.from(data as ArrayLike<number>));
  }

  /** The values rounded to the dtype's storage (f32/bf16/f16 rounding, integer truncation; 16-bit floats as raw bits). */
  toHost(): Float32Array | Int32Array | Uint8Array | Uint16Array {
    switch (this.dtype) {
      case 'f32':
        return Float32Array.from(this.data);
      case 'bf16':
        return Uint16Array.from(this.data, numberToBf16Bits);
      case 'f16':
        return Uint16Array.from(this.data, numberToF16Bits);
      case 'i32':
        return Int32Array.from(this.data, (v) => castScalar(v, 'i32'));
      default:
        return Uint8Array.from(this.data, (v) => castScalar(v, this.dtype));
    }
  }

  get(...idx: number[]): number {
    const s = stridesOf(this.shape);
    let off = 0;
    for (let i = 0; i < idx.length; i++) off += idx[i] * s[i];
    return this.data[off];
  }
}

/**
 * For an output of shape `out`, the flat offset into an input of shape `inp`
 * that broadcasts to it, for every output element.
 */
export function broadcastIndex(inp: Shape, out: Shape): Int32Array {
  const n = numel(out);
  const idx = new Int32Array(n);
  const rank = out.length;
  const inStrides = stridesOf(inp);
  const eff = new Array<number>(rank).fill(0);
  for (let i = 0; i < inp.length; i++) {
    const oi = rank - inp.length + i;
    eff[oi] = inp[i] === 1 ? 0 : inStrides[i];
  }
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = off;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      off += eff[d];
      if (counter[d] < out[d]) break;
      off -= eff[d] * counter[d];
      counter[d] = 0;
    }
  }
  return idx;
}

/** Applies `f` elementwise over any number of broadcast inputs. */
export function mapBroadcast(inputs: readonly NDArray[], dtype: DType, f: (...v: number[]) => number): NDArray {
  let shape: number[] = [];
  for (const a of inputs) shape = broadcastShapes(shape, a.shape)!;
  const n = numel(shape);
  const idx = inputs.map((a) => broadcastIndex(a.shape, shape));
  const out = new Float64Array(n);
  const args = new Array<number>(inputs.length);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < inputs.length; j++) args[j] = inputs[j].data[idx[j][k]];
    out[k] = f(...args);
  }
  return new NDArray(shape, dtype, out);
}
