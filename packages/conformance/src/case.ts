import type { DType, Shape, Tensor } from '@lowrank/core';
import type { ValueKind } from './random.js';

/** One input of an op case: its shape, dtype and how its values are drawn. */
export interface InputSpec {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly values: ValueKind;
}

/**
 * One application of an op on inputs of given shapes. The suite draws the
 * inputs, builds `out = build(inputs)`, and when `out` is f32 and some input is
 * f32 it also builds the VJP of `out` with a random cotangent for every f32 input.
 */
export interface OpCase {
  /** Registry name of the op under test; the built graph must contain a node of this op. */
  readonly op: string;
  readonly label: string;
  readonly inputs: readonly InputSpec[];
  readonly build: (inputs: Tensor[]) => Tensor;
}

const uniform = (lo = -2, hi = 2): ValueKind => ({ kind: 'uniform', lo, hi });

export const f32 = (shape: Shape, values: ValueKind = uniform()): InputSpec => ({ shape, dtype: 'f32', values });
export const i32 = (shape: Shape, values: ValueKind): InputSpec => ({ shape, dtype: 'i32', values });
export const u8 = (shape: Shape): InputSpec => ({ shape, dtype: 'u8', values: { kind: 'int', lo: 0, hi: 255 } });
export const bool = (shape: Shape): InputSpec => ({ shape, dtype: 'bool', values: { kind: 'bool' } });
export const values = {
  uniform,
  positive: (): ValueKind => ({ kind: 'uniform', lo: 0.4, hi: 3 }),
  awayFromZero: (lo = 0.2, hi = 2): ValueKind => ({ kind: 'awayFromZero', lo, hi }),
  distinct: (gap = 0.05): ValueKind => ({ kind: 'distinct', gap }),
  grid: (offset: number): ValueKind => ({ kind: 'grid', offset }),
  int: (lo: number, hi: number): ValueKind => ({ kind: 'int', lo, hi }),
  labels: (vocab: number): ValueKind => ({ kind: 'labels', vocab }),
};

export const fmt = (s: Shape): string => `[${s.join(',')}]`;
