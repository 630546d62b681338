import type { Module } from '@lowrank/core';
import { WeightMismatchError } from '../errors.js';

/** Throws WeightMismatchError unless every parameter of `model` has a tensor of its shape. */
export function checkWeights(where: string, model: Module, shapeOf: (name: string) => readonly number[] | undefined): void {
  const missing: string[] = [];
  const wrongShape: { name: string; expected: readonly number[]; got: readonly number[] }[] = [];
  for (const [name, spec] of model.namedParams()) {
    const got = shapeOf(name);
    if (!got) missing.push(name);
    else if (got.length !== spec.shape.length || got.some((d, i) => d !== spec.shape[i])) wrongShape.push({ name, expected: spec.shape, got });
  }
  if (missing.length || wrongShape.length) throw new WeightMismatchError(where, missing, wrongShape);
}
