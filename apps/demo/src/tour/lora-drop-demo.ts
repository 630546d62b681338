// LoRA-Drop in the tour: a short LoRA warm-up scores each layer by Σ||ΔW x||², the least
// important layers then share one adapter per shape, and the reduced adapter trains.
import type { Backend } from '@lowrank/core';
import { evalBatches } from '@lowrank/models';
import { initialSharedState, loraLayers, measureLayerImportance, selectLayers, shareDroppedLayers, sharedParamName, type LayerSelection } from '@lowrank/variants';
import { lmLossBuilder } from '../cli/runtime/lm-graph.js';
import type { TaskData } from './task.js';
import { cliAdapters, type AdapterFactory, type MethodResult, type MethodSettings } from './train-method.js';

/** Normalized cumulative importance the kept layers must reach (the paper's example value). */
export const LORA_DROP_THRESHOLD = 0.9;

/** Measures each adapted layer's importance with the warmed-up adapter and picks the layers to keep. */
export async function selectLoraDropLayers(backend: Backend, warm: MethodResult, task: TaskData, batchSize: number): Promise<LayerSelection> {
  const sample = evalBatches(task.train.slice(0, 4 * batchSize), batchSize);
  const importance = await measureLayerImportance({
    backend,
    model: warm.base.model,
    trace: () => lmLossBuilder(warm.base.model, batchSize, task.seqLen, (t) => warm.adapted.setTraining(t))({ training: false }).graph,
    parameters: { ...warm.adapted.values, ...warm.trained },
    batches: sample.map((b) => b.feeds),
  });
  return selectLayers(importance, LORA_DROP_THRESHOLD);
}

/** LoRA on every target, except that the `dropped` layers share one A and B per shape. */
export function loraDropAdapters(dropped: readonly string[]): AdapterFactory {
  return async (base, s: MethodSettings) => {
    const lora = await cliAdapters(base, s);
    shareDroppedLayers(base.model, dropped);
    const droppedSet = new Set(dropped);
    const own = new Set<string>();
    const shared = new Set<string>();
    for (const layer of loraLayers(base.model).values()) {
      if (!droppedSet.has(layer.path)) continue;
      for (const kind of ['lora_A', 'lora_B'] as const) {
        own.add(layer.paramName(kind, 'default'));
        shared.add(sharedParamName(layer, kind));
      }
    }
    const values = Object.fromEntries(Object.entries(lora.values).filter(([n]) => !own.has(n)));
    for (const [n, t] of initialSharedState(base.model, dropped, s.seed)) values[n] = t;
    return { ...lora, values, trainable: [...lora.trainable.filter((n) => !own.has(n)), ...shared] };
  };
}
