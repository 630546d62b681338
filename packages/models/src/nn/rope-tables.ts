import { ops, type Tensor } from '@lowrank/core';
import { ropeInvFreq, type RopeScaling } from '../config/rope-scaling.js';
import type { RopeTables } from './attend.js';

/**
 * cos/sin tables [S, headDim] for i32 positions [S]: core's ropeTables when
 * unscaled, else the same construction (freqs = pos ⊗ inv_freq, emb = [freqs,
 * freqs]) over inverse frequencies rescaled per config.rope_scaling.
 */
export function ropeTablesFor(positions: Tensor, headDim: number, theta: number, scaling: RopeScaling | null): RopeTables {
  if (!scaling) return ops.ropeTables(positions, headDim, theta);
  const inv = ropeInvFreq(headDim, theta, scaling);
  const table = ops.constant(positions.graph, [...inv, ...inv], [1, headDim]);
  const freqs = ops.matmul(ops.reshape(ops.cast(positions, 'f32'), [positions.shape[0], 1]), table);
  return { cos: ops.cos(freqs), sin: ops.sin(freqs) };
}
