import { ops, type Tensor } from '@lowrank/core';
import { ropeInvFreq, type RopeScaling } from '../config/rope-scaling.js';
import type { RopeTables } from './attend.js';

/**
 * cos/sin tables [S, headDim] for i32 positions [S]: core's ropeTables when
 * unscaled, else the same construction (freqs = pos ⊗ inv_freq, emb = [freqs,
 * freqs]) over inverse frequencies rescaled per config.rope_scaling.
 */
export function ropeTablesFor(positions: Tensor, headDim: number, theta: number, scaling: RopeScaling | null): RopeTables {
  if (positions.rank === 2) {
    // Per-row positions [B, S]: tables [B, 1, S, D], broadcasting over the heads of [B, H, S, D].
    const [b, s] = positions.shape;
    const flat = ropeTablesFor(ops.reshape(positions, [b * s]), headDim, theta, scaling);
    const rows = (t: Tensor) => ops.reshape(t, [b, 1, s, t.shape[1]]);
    return { cos: rows(flat.cos), sin: rows(flat.sin) };
  }
  if (!scaling) return ops.ropeTables(positions, headDim, theta);
  const tables = (inv: readonly number[]): RopeTables => {
    const table = ops.constant(positions.graph, [...inv, ...inv], [1, headDim]);
    const freqs = ops.matmul(ops.reshape(ops.cast(positions, 'f32'), [positions.shape[0], 1]), table);
    return { cos: ops.cos(freqs), sin: ops.sin(freqs) };
  };
  if (scaling.rope_type !== 'longrope') return tables(ropeInvFreq(headDim, theta, scaling));
  // LongRoPE picks its factors per forward: long once the largest position reaches the original context.
  const short = tables(ropeInvFreq(headDim, theta, scaling, false));
  const long = tables(ropeInvFreq(headDim, theta, scaling, true));
  const useLong = ops.greaterEqual(ops.max(ops.cast(positions, 'f32')), scaling.original_max_position_embeddings);
  const pick = (l: Tensor, s: Tensor) => ops.mul(ops.where(useLong, l, s), scaling.attention_factor);
  return { cos: pick(long.cos, short.cos), sin: pick(long.sin, short.sin) };
}
