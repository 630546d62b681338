import { resolveParameterValue, type HostTensor, type Module, type ParameterValue } from '@lowrank/core';
import { foldAdapters, loraLayers, type FoldedAdapters } from '@lowrank/variants';
import type { ProgressOutput } from '../progress.js';

/**
 * `--fold-adapters`: the adapter folded into the base weights for one run.
 * Reads only the adapted layers' tensors (the rest stay lazy); says on `log`
 * which layers stayed unfolded and why (a 16-bit or 4-bit base keeps the
 * adapter path rather than holding an f32 copy).
 */
export async function foldForRun(model: Module, values: Readonly<Record<string, ParameterValue>>, log?: ProgressOutput): Promise<FoldedAdapters> {
  const weights = new Map(Object.entries(values) as [string, HostTensor][]);
  for (const layer of loraLayers(model).values()) {
    // Full names: the base weight (and bias) and the adapter tensors of this layer.
    for (const name of layer.namedParams().keys()) {
      const v = values[name];
      if (v) weights.set(name, await resolveParameterValue(v));
    }
  }
  const folded = foldAdapters(model, weights);
  if (folded.unfolded.size > 0) {
    const [path, why] = folded.unfolded.entries().next().value!;
    log?.write(`fold-adapters: ${folded.unfolded.size} adapted layer(s) not folded, e.g. ${path}: ${why}; their adapter path runs in every step\n`);
  }
  return folded;
}
