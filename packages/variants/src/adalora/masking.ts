import type { Executable, HostTensor } from '@lowrank/core';
import type { AdaLoraLayer } from './layer.js';

/** Zeroes the singular values a keep-mask drops, on the backend's resident copy (PEFT's masked_fill_ on lora_E). */
export async function maskSingularValues(exe: Executable, layers: readonly AdaLoraLayer[], keep: ReadonlyMap<AdaLoraLayer, readonly boolean[]>): Promise<void> {
  const names = layers.filter((l) => l.r > 0 && keep.has(l)).map((l) => l.paramName('lora_E'));
  if (names.length === 0) return;
  const current = await exe.getParameters(names);
  const next: Record<string, HostTensor> = {};
  for (const l of layers) {
    const k = keep.get(l);
    if (!k || l.r === 0) continue;
    const e = current[l.paramName('lora_E')];
    const data = Float32Array.from(e.data as ArrayLike<number>);
    for (let i = 0; i < l.r; i++) if (!k[i]) data[i] = 0;
    next[l.paramName('lora_E')] = { shape: e.shape, dtype: 'f32', data };
  }
  await exe.setParameters(next);
}

/** Kept components per layer. */
export function ranksOf(layers: readonly AdaLoraLayer[], keep: ReadonlyMap<AdaLoraLayer, readonly boolean[]>): Record<string, number> {
  return Object.fromEntries(layers.map((l) => [l.path, keep.get(l)?.filter(Boolean).length ?? l.r]));
}

/** How many layers hold each rank (the rank distribution over layers). */
export function rankDistribution(ranks: Readonly<Record<string, number>>): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of Object.values(ranks)) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** The flat keep-mask a step graph outputs (1 kept, 0 dropped, layer after layer) as one flag list per layer. */
export function keepFlagsByLayer(keep: ArrayLike<number | bigint>, layers: readonly { readonly r: number }[]): boolean[][] {
  let offset = 0;
  return layers.map((l) => {
    const flags = Array.from({ length: l.r }, (_, i) => Number(keep[offset + i]) > 0.5);
    offset += l.r;
    return flags;
  });
}
