import { buildTrainGraph, optimizerScalars, type Graph, type HostTensor, type OptimizerConfig, type Signature } from '@lowrank/core';
import { buildTinyModel, tinyBatch, tinyModelParams, type TinyModelConfig } from './tiny-model.js';

/** The training step the browser page runs and the Node test recomputes on the reference backend. */
export const BROWSER_CONFIG: TinyModelConfig = { blocks: 2, dim: 16, rank: 4, vocab: 24, batch: 2, seq: 8, dropout: 0.1 };
export const BROWSER_OPTIMIZER: OptimizerConfig = { kind: 'adamw', lr: 1e-2 };

export interface TrainingStep {
  readonly graph: Graph;
  readonly signature: Signature;
  readonly params: Record<string, HostTensor>;
  /** Feeds of step `i` (0-based). */
  feeds(i: number): Record<string, HostTensor>;
}

export function buildBrowserStep(): TrainingStep {
  const model = buildTinyModel(BROWSER_CONFIG);
  const tg = buildTrainGraph(model.graph, model.loss, { optimizer: BROWSER_OPTIMIZER });
  return {
    graph: tg.graph,
    signature: tg.signature,
    params: tinyModelParams(tg.graph),
    feeds(i) {
      const f: Record<string, HostTensor> = {
        ...tinyBatch(BROWSER_CONFIG, 40 + i),
        'rng.seed': { shape: [], dtype: 'i32', data: Int32Array.of(77) },
        'rng.step': { shape: [], dtype: 'i32', data: Int32Array.of(i) },
      };
      for (const [k, v] of Object.entries(optimizerScalars(BROWSER_OPTIMIZER, i, BROWSER_OPTIMIZER.lr))) {
        f[k] = { shape: [], dtype: 'f32', data: Float32Array.of(v) };
      }
      return f;
    },
  };
}
