import { ops, rng, type HostTensor, type Module, type Tensor } from '@lowrank/core';
import { applyAdapters, loraLayers, type AppliedAdapter } from '../apply.js';
import { adapterHyperparams, type LoraConfig } from '../config.js';
import { AdapterConfigError } from '../errors.js';
import type { LayerAdapter, LoraLayer } from '../lora/lora-layer.js';
import { sharedInput } from './graph-inputs.js';

/** `full`: all of the first b components train; `frozen`: only the b-th does (Valipour et al.'s frozen mode). */
export type DyLoraMode = 'full' | 'frozen';

/** Graph input holding r/b on the first b components and 0 after them (times alpha/r gives alpha/b). */
export const dyLoraScaleInput = (r: number): string => `dylora.scale.r${r}`;
/** Graph input holding 1 on the component that receives gradient in frozen mode. */
export const dyLoraGradInput = (r: number): string => `dylora.grad.r${r}`;

export interface DyLora {
  readonly applied: AppliedAdapter;
  readonly mode: DyLoraMode;
  /** Largest rank (the adapter's r). */
  readonly maxRank: number;
  /** Distinct ranks of the adapted layers (one pair of inputs each). */
  readonly ranks: readonly number[];
  /** Rank r of each adapted layer, by path relative to the model. */
  readonly layerRanks: Readonly<Record<string, number>>;
  /** Feeds that run every layer at rank b (clipped to each layer's r): data, never a recompile. */
  feedsForRank(b: number): Record<string, HostTensor>;
  /** The training step's rank: uniform over 1..upTo (default maxRank), from the core counter RNG. */
  drawRank(seed: number, microStep: number, upTo?: number): number;
}

/**
 * DyLoRA (Valipour et al. 2022): a LoRA adapter whose forward uses only the
 * first b rows of A and columns of B, scaled by alpha/b. b is fed to the graph
 * as a mask and a scale, so one compiled graph serves every rank. In frozen mode
 * the components before b are detached (stopGradient), so only the b-th row of A
 * and column of B receive gradient.
 */
export function applyDyLora(model: Module, config: LoraConfig, opts: { mode?: DyLoraMode; adapterName?: string } = {}): DyLora {
  if ((config.use_dora ?? false) || (config.use_rslora ?? false)) throw new AdapterConfigError('use_dora/use_rslora', 'DyLoRA scales by alpha/b; turn DoRA and rsLoRA off');
  const mode = opts.mode ?? 'full';
  if (mode !== 'full' && mode !== 'frozen') throw new AdapterConfigError('mode', `DyLoRA mode must be 'full' or 'frozen', got '${String(mode)}'`);
  const applied = applyAdapters(model, config, opts.adapterName);
  const layers = [...loraLayers(model).values()].filter((l) => l.adapters.has(applied.name));
  for (const layer of layers) layer.pathOverride = (x, a, factors, l) => dyLoraPath(x, a, factors(), l, mode);
  const ranks = [...new Set(layers.map((l) => l.adapters.get(applied.name)!.r))].sort((a, b) => a - b);
  const maxRank = ranks[ranks.length - 1];
  const layerRanks = Object.fromEntries(applied.layers.map((p) => [p, adapterHyperparams(applied.config, p).r]));
  return {
    applied,
    mode,
    maxRank,
    ranks,
    layerRanks,
    feedsForRank(b: number) {
      if (!(Number.isInteger(b) && b >= 1 && b <= maxRank)) throw new AdapterConfigError('rank', `DyLoRA rank must be an integer in 1..${maxRank}, got ${b}`);
      const out: Record<string, HostTensor> = {};
      for (const r of ranks) {
        const k = Math.min(b, r);
        const scale = new Float32Array(r);
        const grad = new Float32Array(r);
        for (let i = 0; i < k; i++) scale[i] = r / k;
        grad[k - 1] = 1;
        out[dyLoraScaleInput(r)] = { shape: [r], dtype: 'f32', data: scale };
        out[dyLoraGradInput(r)] = { shape: [r], dtype: 'f32', data: grad };
      }
      return out;
    },
    drawRank(seed: number, microStep: number, upTo = maxRank) {
      const u = rng.uniformAt(rng.streamWord(seed, microStep, rng.stringKey('dylora.rank')), 0);
      return 1 + Math.min(upTo - 1, Math.floor(u * upTo));
    },
  };
}

function dyLoraPath(x: Tensor, a: LayerAdapter, f: { A: Tensor; B: Tensor }, layer: LoraLayer, mode: DyLoraMode): Tensor {
  const g = x.graph;
  const scale = sharedInput(g, dyLoraScaleInput(a.r), [a.r]);
  let h = ops.mul(ops.matmul(x, f.A, { transB: true }), scale);
  let B = f.B;
  // Frozen mode applies only while training; evaluation graphs see the plain masked path.
  if (mode === 'frozen' && layer.training) {
    const grad = sharedInput(g, dyLoraGradInput(a.r), [a.r]);
    const keep = ops.sub(1, grad);
    h = ops.add(ops.mul(h, grad), ops.mul(ops.stopGradient(h), keep));
    B = ops.add(ops.mul(B, grad), ops.mul(ops.stopGradient(B), keep));
  }
  return ops.matmul(h, B, { transB: true });
}
