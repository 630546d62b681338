import { Embedding, Linear, ops, type DType, type Module, type Tensor } from '@lowrank/core';

/**
 * Declares the frozen base weights of a model (every Linear weight and every
 * embedding table) at a storage dtype: bf16/f16 stay 16-bit wherever they are
 * held, and the modules upcast per use (Linear right before its matmul, an
 * embedding after gathering its rows). Norm weights and biases stay f32: they
 * are small and feed elementwise ops directly.
 */
export function declareBaseStorage(model: Module, dtype: DType): void {
  for (const m of model.modules()) if (m instanceof Linear || m instanceof Embedding) m.setParamDtype('weight', dtype);
}

/** A graph value as f32 (a tied head reads the 16-bit embedding table through this). */
export function upcastF32(t: Tensor): Tensor {
  return t.dtype === 'f32' ? t : ops.cast(t, 'f32');
}
