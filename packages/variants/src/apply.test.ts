import { evaluate, Graph, Linear, NDArray } from '@lowrank/core';
import { describe, expect, it } from 'vitest';
import { adapterConfigs, applyAdapters, deleteAdapter, loraLayers, setActiveAdapters } from './apply.js';
import { AdapterConfigError, AdapterNameError, TargetModulesNotFoundError } from './errors.js';
import { matmul, matrix } from './linalg/matrix.js';
import { jacobiSvd } from './linalg/svd.js';
import { initialAdapterState } from './lora/init.js';
import { feedsOf, TinyLM, TinyNet } from './test-support.js';

describe('applyAdapters: targets and config', () => {
  it('list targets match by name or dotted suffix; the base is frozen, adapters trainable', () => {
    const m = new TinyLM(7, 8);
    const applied = applyAdapters(m, { target_modules: ['q_proj'] });
    expect(applied.layers).toEqual(['q_proj']);
    const params = m.namedParams();
    expect(params.get('q_proj.weight')!.trainable).toBe(false);
    expect(params.get('embed_tokens.weight')!.trainable).toBe(false);
    expect(params.get('q_proj.lora_A.weight')).toMatchObject({ shape: [8, 8], trainable: true });
    expect(params.get('q_proj.lora_B.weight')).toMatchObject({ shape: [8, 8], trainable: true });
  });

  it('a string is a full-match regex', () => {
    expect(applyAdapters(new TinyLM(7, 8), { target_modules: '.*_proj' }).layers).toEqual(['q_proj', 'v_proj']);
    // Full match: 'proj' alone matches no path.
    expect(() => applyAdapters(new TinyLM(7, 8), { target_modules: 'proj' })).toThrow(TargetModulesNotFoundError);
  });

  it("'all-linear', exclude_modules and the default targets", () => {
    expect(applyAdapters(new TinyLM(7, 8), { target_modules: 'all-linear' }).layers).toEqual(['q_proj', 'v_proj']);
    expect(applyAdapters(new TinyLM(7, 8), { target_modules: 'all-linear', exclude_modules: ['v_proj'] }).layers).toEqual(['q_proj']);
    expect(applyAdapters(new TinyLM(7, 8), {}).layers).toEqual(['q_proj', 'v_proj']);
  });

  it('typed errors: no matching module, bad config values, duplicate or unknown adapter names', () => {
    expect(() => applyAdapters(new TinyLM(7, 8), { target_modules: ['o_proj'] })).toThrow(TargetModulesNotFoundError);
    expect(() => applyAdapters(new TinyLM(7, 8), { target_modules: ['o_proj'] })).toThrow(/linear layers are: q_proj, v_proj, lm_head/);
    expect(() => applyAdapters(new TinyLM(7, 8), { r: 0 })).toThrow(AdapterConfigError);
    expect(() => applyAdapters(new TinyLM(7, 8), { bias: 'all' })).toThrow(/only 'none' is supported/);
    const m = new TinyLM(7, 8);
    applyAdapters(m, { target_modules: ['q_proj'] });
    expect(() => applyAdapters(m, { target_modules: ['q_proj'] })).toThrow(AdapterNameError);
    expect(() => setActiveAdapters(m, ['nope'])).toThrow(/adapters: default/);
  });

  it('several adapters: the non-default name is inserted into parameter names; delete removes it', () => {
    const m = new TinyLM(7, 8);
    applyAdapters(m, { target_modules: ['q_proj'] });
    applyAdapters(m, { target_modules: ['q_proj', 'v_proj'], r: 2, use_dora: true }, 'style');
    const names = [...m.namedParams().keys()].filter((n) => n.includes('lora'));
    expect(names.sort()).toEqual([
      'q_proj.lora_A.style.weight',
      'q_proj.lora_A.weight',
      'q_proj.lora_B.style.weight',
      'q_proj.lora_B.weight',
      'q_proj.lora_magnitude_vector.style',
      'v_proj.lora_A.style.weight',
      'v_proj.lora_B.style.weight',
      'v_proj.lora_magnitude_vector.style',
    ]);
    // Only the newest adapter is active and trainable.
    expect(m.namedParams().get('q_proj.lora_A.weight')!.trainable).toBe(false);
    deleteAdapter(m, 'style');
    expect([...adapterConfigs(m).keys()]).toEqual(['default']);
    expect([...m.namedParams().keys()].filter((n) => n.includes('style'))).toEqual([]);
  });

  it('layers_to_transform keeps only the listed layer indices; an init it cannot do fails at initialisation only', () => {
    // PEFT reads the index from `.<name>.<N>.` inside the path: model.layers.N.proj.
    const adopt = (parent: TinyNet, name: string, child: TinyNet) => (parent as unknown as { addModule(n: string, m: TinyNet): void }).addModule(name, child);
    const net = new TinyNet({});
    const trunk = new TinyNet({});
    const layers = new TinyNet({});
    for (const i of ['0', '1', '2']) adopt(layers, i, new TinyNet({ proj: new Linear(4, 4) }));
    adopt(trunk, 'layers', layers);
    adopt(net, 'model', trunk);
    expect(applyAdapters(net, { target_modules: 'all-linear', layers_to_transform: [0, 2] }).layers).toEqual(['model.layers.0.proj', 'model.layers.2.proj']);
    const m = new TinyLM(7, 8);
    applyAdapters(m, { target_modules: ['q_proj'], init_lora_weights: 'loftq' });
    expect(() => initialAdapterState(m, m.randomWeights(1))).toThrow(/'loftq' is not supported for initialisation/);
  });

  it('fan_in_fan_out follows the layer layout and says so when the config disagrees', () => {
    const net = new TinyNet({ c_attn: new Linear(4, 12, { fanInFanOut: true }) });
    const applied = applyAdapters(net, {});
    expect(applied.layers).toEqual(['c_attn']);
    expect(applied.notices[0]).toMatch(/c_attn: fan_in_fan_out=false but the layer stores its weight \[in, out\]/);
  });
});

describe('PiSSA initialisation', () => {
  it('A, B from the top-r singular triplets; W keeps the residual so the output is unchanged', () => {
    const m = new TinyLM(7, 16);
    const base = m.randomWeights(3);
    applyAdapters(m, { r: 3, lora_alpha: 6, target_modules: ['q_proj'], init_lora_weights: 'pissa' });
    const init = initialAdapterState(m, base, { seed: 1 });
    const w = matrix(16, 16, base.get('q_proj.weight')!.data);
    const A = matrix(3, 16, init.get('q_proj.lora_A.weight')!.data);
    const B = matrix(16, 3, init.get('q_proj.lora_B.weight')!.data);
    const residual = init.get('q_proj.weight')!.data;
    const ba = matmul(B, A);
    // W_res + s·B·A = W.
    for (let i = 0; i < 256; i++) expect(residual[i] + 2 * ba.data[i]).toBeCloseTo(w.data[i], 5);
    // s·B·A is the best rank-3 approximation of W.
    const dense = jacobiSvd(w);
    const s = jacobiSvd(matrix(16, 16, ba.data.map((v) => 2 * v))).s;
    for (let k = 0; k < 3; k++) expect(s[k]).toBeCloseTo(dense.s[k], 4);
    // Same logits as the base model at step 0.
    const logits = (weights: Map<string, import('@lowrank/core').HostTensor>) => {
      const g = new Graph();
      g.output('y', m.logits(g.input('ids', [1, 3], 'i32')));
      return evaluate(g, { ...feedsOf(weights), ids: NDArray.from([1, 3], [1, 2, 6], 'i32') }).get('y')!.data;
    };
    const before = logits(new Map([...base, ['q_proj.lora_A.weight', init.get('q_proj.lora_A.weight')!], ['q_proj.lora_B.weight', { shape: [16, 3], dtype: 'f32', data: new Float32Array(48) }]]));
    const after = logits(new Map([...base, ...init]));
    for (let i = 0; i < before.length; i++) expect(after[i]).toBeCloseTo(before[i], 5);
    expect(loraLayers(m).size).toBe(1);
  });
});
