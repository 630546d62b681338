// target_modules, layers_to_transform, rank/alpha_pattern and modules_to_save
// follow PEFT's selection rules. Expected module lists are written by hand from
// PEFT's rules (peft.tuners.tuners_utils.check_target_module_exists and
// _maybe_include_all_linear_layers), in transformers' module order.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdapterConfigError, applyAdapters, initialAdapterState, loraLayers, TargetModulesNotFoundError } from '@lowrank/variants';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, createPreset, loadAdapter, openSafetensors, parseConfig, saveAdapter, type LanguageModel } from '../src/index.js';
import { removeTempDirs, tempDir } from './family-support.js';

afterAll(removeTempDirs);

const llama = (): LanguageModel => createPreset('llama-tiny').model;
const phi3 = (): LanguageModel =>
  buildModel(parseConfig({ architectures: ['Phi3ForCausalLM'], vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 }));

const LLAMA_BLOCK = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];
const PHI3_BLOCK = ['self_attn.o_proj', 'self_attn.qkv_proj', 'mlp.gate_up_proj', 'mlp.down_proj'];
const inLayers = (layers: number[], block: string[]) => layers.flatMap((l) => block.map((m) => `model.layers.${l}.${m}`));

describe("PEFT's target_modules rules", () => {
  it("'all-linear' adapts every Linear but the output layer: q,k,v,o,gate,up,down on LLaMA", () => {
    const m = llama();
    expect(m.namedParams().has('lm_head.weight')).toBe(true);
    expect(applyAdapters(m, { target_modules: 'all-linear' }).layers).toEqual(inLayers([0, 1], LLAMA_BLOCK));
  });

  it("'all-linear' and a regex on Qwen2, Qwen3, Mistral and Gemma 2: LLaMA's seven projections (Qwen3's q_norm / k_norm are not Linear)", () => {
    const sizes = { vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 4 };
    for (const arch of ['Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'MistralForCausalLM', 'Gemma2ForCausalLM']) {
      const build = () => buildModel(parseConfig({ architectures: [arch], ...sizes }));
      expect(applyAdapters(build(), { target_modules: 'all-linear' }).layers, arch).toEqual(inLayers([0, 1], LLAMA_BLOCK));
      expect(applyAdapters(build(), { target_modules: '.*\\.layers\\.0\\.self_attn\\..*' }).layers, arch).toEqual(inLayers([0], LLAMA_BLOCK.slice(0, 4)));
    }
  });

  it("'all-linear' on Phi-3 adapts the fused qkv_proj and gate_up_proj as single modules", () => {
    expect(applyAdapters(phi3(), { target_modules: 'ALL-LINEAR' }).layers).toEqual(inLayers([0, 1], PHI3_BLOCK));
  });

  it('a string target is a regex matched against the whole module path (re.fullmatch)', () => {
    expect(applyAdapters(llama(), { target_modules: '.*\\.layers\\.1\\..*_proj' }).layers).toEqual(inLayers([1], LLAMA_BLOCK));
    expect(applyAdapters(phi3(), { target_modules: '.*\\.layers\\.1\\..*_proj' }).layers).toEqual(inLayers([1], PHI3_BLOCK));
    expect(applyAdapters(llama(), { target_modules: 'model\\.layers\\.\\d+\\.self_attn\\.(q|v)_proj' }).layers).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
    // Python named groups are accepted.
    expect(applyAdapters(phi3(), { target_modules: '.*\\.(?P<part>qkv|gate_up)_proj' }).layers).toEqual(['model.layers.0.self_attn.qkv_proj', 'model.layers.0.mlp.gate_up_proj', 'model.layers.1.self_attn.qkv_proj', 'model.layers.1.mlp.gate_up_proj']);
    // A bare name as a string is a regex: it must match the whole path, so it matches nothing (as in PEFT).
    expect(() => applyAdapters(llama(), { target_modules: 'q_proj' })).toThrow(TargetModulesNotFoundError);
    expect(() => applyAdapters(llama(), { target_modules: '.*(q_proj' })).toThrow(AdapterConfigError);
    expect(() => applyAdapters(llama(), { target_modules: '.*(q_proj' })).toThrow(/target_modules.*not a valid regular expression/);
  });

  it('a list matches a module named exactly so or ending in .name; the default for Phi-3 is qkv_proj', () => {
    expect(applyAdapters(phi3(), { target_modules: ['qkv_proj', 'mlp.down_proj'] }).layers).toEqual(['model.layers.0.self_attn.qkv_proj', 'model.layers.0.mlp.down_proj', 'model.layers.1.self_attn.qkv_proj', 'model.layers.1.mlp.down_proj']);
    // 'proj' is not a suffix at a dot boundary of any path.
    expect(() => applyAdapters(phi3(), { target_modules: ['proj'] })).toThrow(TargetModulesNotFoundError);
    expect(applyAdapters(phi3(), {}).layers).toEqual(['model.layers.0.self_attn.qkv_proj', 'model.layers.1.self_attn.qkv_proj']);
    expect(applyAdapters(llama(), { target_modules: 'all-linear', exclude_modules: ['down_proj', 'o_proj'] }).layers).toEqual(
      inLayers([0, 1], ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'mlp.gate_proj', 'mlp.up_proj']),
    );
  });

  it('layers_to_transform filters list and all-linear targets by the index after .<layers_pattern>., and is ignored for a regex', () => {
    expect(applyAdapters(llama(), { target_modules: ['q_proj', 'v_proj'], layers_to_transform: [1] }).layers).toEqual(['model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
    expect(applyAdapters(phi3(), { target_modules: 'all-linear', layers_to_transform: 0, layers_pattern: 'layers' }).layers).toEqual(inLayers([0], PHI3_BLOCK));
    expect(applyAdapters(llama(), { target_modules: '.*q_proj', layers_to_transform: [1] }).layers).toEqual(['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.q_proj']);
    // An empty list means no layer filter (PEFT checks len != 0).
    expect(applyAdapters(llama(), { target_modules: ['q_proj'], layers_to_transform: [] }).layers).toHaveLength(2);
    // A layers_pattern found in no path leaves nothing to adapt.
    expect(() => applyAdapters(llama(), { target_modules: ['q_proj'], layers_to_transform: [0], layers_pattern: ['h'] })).toThrow(TargetModulesNotFoundError);
  });

  it('rank_pattern and alpha_pattern keys are regexes on the path end, the first matching key wins', () => {
    const ranks = (m: LanguageModel) => Object.fromEntries([...loraLayers(m)].map(([p, l]) => [p, [l.adapters.get('default')!.r, l.adapters.get('default')!.scaling]]));
    const a = llama();
    applyAdapters(a, { r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], rank_pattern: { 'model.layers.0.self_attn.q_proj': 4, q_proj: 2 }, alpha_pattern: { 'layers\\.1\\.self_attn\\.v_proj': 4 } });
    expect(ranks(a)).toEqual({
      'model.layers.0.self_attn.q_proj': [4, 16 / 4],
      'model.layers.0.self_attn.v_proj': [8, 16 / 8],
      'model.layers.1.self_attn.q_proj': [2, 16 / 2],
      'model.layers.1.self_attn.v_proj': [8, 4 / 8],
    });
    const b = llama();
    // Key order decides: 'q_proj' now comes first and matches layer 0's q_proj too.
    applyAdapters(b, { r: 8, target_modules: ['q_proj'], rank_pattern: { q_proj: 2, 'model.layers.0.self_attn.q_proj': 4 } });
    expect(Object.values(ranks(b)).map(([r]) => r)).toEqual([2, 2]);
    // A key must end at a dot boundary: 'proj' matches no path end.
    const c = llama();
    applyAdapters(c, { r: 8, target_modules: ['q_proj'], rank_pattern: { proj: 2 } });
    expect(Object.values(ranks(c)).map(([r]) => r)).toEqual([8, 8]);
  });
});

describe('modules_to_save and the adapter_config.json fields', () => {
  it('lm_head is trained in full, never adapted, saved as base_model.model.lm_head.weight and read back', async () => {
    const { model, weights } = createPreset('llama-tiny', { seed: 3 });
    const config = {
      r: 2,
      lora_alpha: 4,
      target_modules: ['q_proj', 'v_proj', 'lm_head'],
      modules_to_save: ['lm_head'],
      layers_to_transform: [1],
      layers_pattern: 'layers',
      rank_pattern: { v_proj: 1 },
      alpha_pattern: { v_proj: 3 },
      init_lora_weights: false,
    };
    const applied = applyAdapters(model, config);
    expect(applied.layers).toEqual(['model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
    expect(applied.modulesToSave).toEqual(['lm_head']);
    const trainable = [...model.namedParams()].filter(([, s]) => s.trainable).map(([n]) => n);
    expect(trainable.sort()).toEqual(['lm_head.weight', ...['q_proj', 'v_proj'].flatMap((p) => ['A', 'B'].map((x) => `model.layers.1.self_attn.${p}.lora_${x}.weight`))].sort());
    const tensors = new Map([...initialAdapterState(model, weights, { seed: 1 }), ['lm_head.weight', weights.get('lm_head.weight')!]]);
    const dir = await tempDir('mts');
    const { keys } = await saveAdapter(dir, config, tensors);
    expect(keys).toContain('base_model.model.lm_head.weight');
    expect(keys).toHaveLength(5);
    const file = await openSafetensors(join(dir, 'adapter_model.safetensors'));
    expect(file.entry('base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight').shape).toEqual([1, 64]);
    await file.close();
    const json = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(json).toMatchObject({ modules_to_save: ['lm_head'], layers_to_transform: [1], layers_pattern: 'layers', rank_pattern: { v_proj: 1 }, alpha_pattern: { v_proj: 3 }, target_modules: ['q_proj', 'v_proj', 'lm_head'] });
    const loaded = await loadAdapter(dir, { model });
    expect(Array.from(loaded.tensors.get('lm_head.weight')!.data)).toEqual(Array.from(weights.get('lm_head.weight')!.data));
    // The loaded config selects the same modules on a fresh model.
    const again = applyAdapters(createPreset('llama-tiny').model, loaded.config);
    expect(again.layers).toEqual(applied.layers);
    expect(again.modulesToSave).toEqual(['lm_head']);
  });

  it('a modules_to_save entry that matches nothing is a typed error', () => {
    expect(() => applyAdapters(llama(), { target_modules: ['q_proj'], modules_to_save: ['score'] })).toThrow(/modules_to_save: \["score"\] matched no module of the model/);
  });
});
