import { ops, type Tensor } from '@lowrank/core';

export interface DoraInputs {
  /** W·x (without bias) for the same x the adapter sees. */
  readonly baseResult: Tensor;
  /** B·A·x, unscaled. */
  readonly loraOut: Tensor;
  /** W [out, in]. */
  readonly weight: Tensor;
  readonly A: Tensor;
  readonly B: Tensor;
  /** m [out], trainable. */
  readonly magnitude: Tensor;
  readonly scaling: number;
}

/**
 * ‖W + s·B·A‖ over the input dimension, one value per output row [out].
 * `detach` (DoRA's choice, section 4.3 of the paper) makes it a constant
 * for the gradient.
 */
export function doraWeightNorm(weight: Tensor, A: Tensor, B: Tensor, scaling: number, detach = true): Tensor {
  const loraWeight = ops.matmul(B, A);
  const combined = ops.add(weight, ops.mul(detach ? ops.stopGradient(loraWeight) : loraWeight, scaling));
  const norm = ops.sqrt(ops.sum(ops.mul(combined, combined), [1]));
  return detach ? ops.stopGradient(norm) : norm;
}

/**
 * The DoRA term PEFT adds to the base output:
 * (m/‖W + s·BA‖ - 1) · W x + (m/‖W + s·BA‖) · s · B A x, the norm detached,
 * so that base + term = m/‖·‖ · (W + s·BA) x (+ bias).
 */
export function doraOutput(d: DoraInputs, detachNorm = true): Tensor {
  const magNormScale = ops.div(d.magnitude, doraWeightNorm(d.weight, d.A, d.B, d.scaling, detachNorm));
  return ops.add(ops.mul(ops.sub(magNormScale, 1), d.baseResult), ops.mul(ops.mul(magNormScale, d.loraOut), d.scaling));
}
