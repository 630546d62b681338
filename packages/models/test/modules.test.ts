import { Linear, Module, NDArray, evaluate, ops, type Tensor } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { callChild, createPreset, traceLanguageModel, type LanguageModel } from '../src/index.js';

/** A stand-in for an adapter: wraps the original layer as base_layer (PEFT's layout) and scales its output. */
class ScaledLinear extends Module {
  constructor(base: Linear) {
    super();
    this.addModule('base_layer', base);
    this.addParam('scale', [base.outFeatures], { trainable: true });
  }
  forward(x: Tensor): Tensor {
    return ops.mul(callChild(this, 'base_layer', x), this.p(x.graph, 'scale'));
  }
}

function logits(model: LanguageModel, weights: Map<string, { shape: readonly number[]; data: Float32Array }>): Float64Array {
  const { graph } = traceLanguageModel(model, { batch: 1, seqLen: 4 });
  const feeds: Record<string, NDArray> = { input_ids: NDArray.from([1, 4], [256, 1, 2, 3], 'i32') };
  for (const n of graph.params.keys()) feeds[n] = NDArray.fromHost(weights.get(n)!.shape, 'f32', weights.get(n)!.data);
  return evaluate(graph, feeds, ['logits']).get('logits')!.data;
}

describe('model module tree', () => {
  it('wraps every block in a checkpoint segment named by its module path', () => {
    const { model } = createPreset('llama-tiny');
    const { graph } = traceLanguageModel(model, { batch: 1, seqLen: 4 });
    const q = graph.params.get('model.layers.1.self_attn.q_proj.weight')!;
    const consumer = graph.node(graph.consumers(q.id)[0]);
    expect(consumer.segments).toEqual(['model.layers.1']);
    expect(consumer.modulePath).toBe('model.layers.1.self_attn.q_proj');
    const head = graph.node(graph.outputs.get('logits')!);
    expect(head.segments).toEqual([]);
  });

  it('traces a layer swapped in with replaceSubmodule (how adapters attach)', () => {
    const { model, weights } = createPreset('gpt2-tiny', { seed: 2 });
    const before = logits(model, weights);
    const base = model.getSubmodule('transformer.h.0.attn.c_attn') as Linear;
    model.replaceSubmodule('transformer.h.0.attn.c_attn', new ScaledLinear(base));
    const names = [...model.namedParams().keys()];
    expect(names).toContain('transformer.h.0.attn.c_attn.base_layer.weight');
    expect(names).toContain('transformer.h.0.attn.c_attn.scale');
    const renamed = new Map(weights);
    renamed.set('transformer.h.0.attn.c_attn.base_layer.weight', weights.get('transformer.h.0.attn.c_attn.weight')!);
    renamed.set('transformer.h.0.attn.c_attn.base_layer.bias', weights.get('transformer.h.0.attn.c_attn.bias')!);
    renamed.set('transformer.h.0.attn.c_attn.scale', { shape: [192], dtype: 'f32', data: new Float32Array(192).fill(1) } as never);
    expect(Array.from(logits(model, renamed))).toEqual(Array.from(before));
    renamed.set('transformer.h.0.attn.c_attn.scale', { shape: [192], dtype: 'f32', data: new Float32Array(192).fill(2) } as never);
    expect(Array.from(logits(model, renamed))).not.toEqual(Array.from(before));
  });
});
