import type { HostTensor, Module } from '@lowrank/core';
import { loraLayers } from '../apply.js';
import { AdapterConfigError } from '../errors.js';
import type { LoraConfig } from '../config.js';

/** Rows [0, k) of a row-major [rows, cols] tensor. */
export function firstRows(t: HostTensor, k: number): HostTensor {
  const cols = t.shape[1];
  return { shape: [k, cols], dtype: 'f32', data: Float32Array.from(t.data.subarray(0, k * cols) as ArrayLike<number>) };
}

/** Columns [0, k) of a row-major [rows, cols] tensor. */
export function firstCols(t: HostTensor, k: number): HostTensor {
  const [rows, cols] = t.shape;
  const out = new Float32Array(rows * k);
  for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) out[i * k + j] = Number(t.data[i * cols + j]);
  return { shape: [rows, k], dtype: 'f32', data: out };
}

/**
 * A trained DyLoRA adapter cut to rank k: the first k rows of A and columns of
 * B, with a LoRA config r = k and the same lora_alpha, so plain LoRA's scale
 * alpha/k equals DyLoRA's alpha/b at b = k. The result is an ordinary rank-k
 * LoRA adapter (saveAdapter writes it in PEFT's format).
 */
export function selectDyLoraRank(model: Module, trained: Readonly<Record<string, HostTensor>>, config: LoraConfig, k: number, adapter = 'default'): { config: LoraConfig; tensors: Record<string, HostTensor> } {
  const tensors: Record<string, HostTensor> = {};
  const rankPattern: Record<string, number> = {};
  for (const layer of loraLayers(model).values()) {
    const a = layer.adapters.get(adapter);
    if (!a) continue;
    if (!(Number.isInteger(k) && k >= 1)) throw new AdapterConfigError('rank', `a positive integer is needed, got ${k}`);
    const kk = Math.min(k, a.r);
    const aName = layer.paramName('lora_A', adapter);
    const bName = layer.paramName('lora_B', adapter);
    const A = trained[aName];
    const B = trained[bName];
    if (!A || !B) throw new AdapterConfigError('tensors', `no trained values for '${aName}' / '${bName}'; pass the trainer's trainableValues()`);
    tensors[aName] = firstRows(A, kk);
    tensors[bName] = firstCols(B, kk);
    if (kk !== k) rankPattern[layer.path] = kk;
  }
  const { rank_pattern: _ignored, ...rest } = config;
  return { config: { ...rest, r: k, ...(Object.keys(rankPattern).length ? { rank_pattern: rankPattern } : {}) }, tensors };
}
