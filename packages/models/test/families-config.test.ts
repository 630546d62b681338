// config.json parsing of the new families: transformers' defaults, derived
// layer types, typed errors for what lowrank does not implement, and fuzzing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildModel, ConfigError, parseConfig, SUPPORTED_ARCHITECTURES, UnsupportedArchitectureError, type Gemma2Config, type Phi3Config, type Qwen2Config, type Qwen3Config } from '../src/index.js';
import { fuzzParams, fuzzTimeout, loadsOrTypedError } from '../src/reliability/fuzz-support.js';

const sizes = { vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 4, num_attention_heads: 4 };

const FAMILIES: Record<string, Record<string, unknown>> = {
  Qwen2ForCausalLM: { ...sizes, use_sliding_window: true, sliding_window: 8, max_window_layers: 2, tie_word_embeddings: true },
  Qwen3ForCausalLM: { ...sizes, head_dim: 8, num_key_value_heads: 2 },
  MistralForCausalLM: { ...sizes, sliding_window: 16, num_key_value_heads: 1 },
  Gemma2ForCausalLM: { ...sizes, head_dim: 8, query_pre_attn_scalar: 8, num_key_value_heads: 2 },
  Phi3ForCausalLM: { ...sizes, partial_rotary_factor: 0.5 },
};

describe('config.json of the new families', () => {
  it('every family is listed as supported and routes by architectures or model_type', () => {
    for (const arch of ['Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'MistralForCausalLM', 'Gemma2ForCausalLM', 'Phi3ForCausalLM']) expect(SUPPORTED_ARCHITECTURES).toContain(arch);
    for (const [type, arch] of [['qwen2', 'Qwen2ForCausalLM'], ['qwen3', 'Qwen3ForCausalLM'], ['mistral', 'MistralForCausalLM'], ['gemma2', 'Gemma2ForCausalLM'], ['phi3', 'Phi3ForCausalLM']]) {
      const c = parseConfig({ model_type: type, ...FAMILIES[arch] });
      expect(c.architectures).toEqual([arch]);
      expect(buildModel(c).constructor.name).toBe(arch);
    }
  });

  it('an unknown architecture or model_type is a typed error naming the supported ones', () => {
    for (const raw of [{ architectures: ['Gemma3ForCausalLM'], ...sizes }, { model_type: 'gemma3', ...sizes }, { model_type: 'constructor', ...sizes }]) {
      const err = (() => {
        try {
          parseConfig(raw);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(UnsupportedArchitectureError);
      expect((err as Error).message).toMatch(/Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM, Gemma2ForCausalLM, Phi3ForCausalLM/);
    }
  });

  it("transformers' defaults and derived fields", () => {
    const q2 = parseConfig({ architectures: ['Qwen2ForCausalLM'], ...FAMILIES.Qwen2ForCausalLM }) as Qwen2Config;
    expect(q2.layer_types).toEqual(['full_attention', 'full_attention', 'sliding_attention', 'sliding_attention']);
    expect(q2.max_position_embeddings).toBe(32768);
    const q3 = parseConfig({ architectures: ['Qwen3ForCausalLM'], ...sizes }) as Qwen3Config;
    expect([q3.head_dim, q3.attention_bias, q3.sliding_window, q3.tie_word_embeddings]).toEqual([128, false, null, false]);
    const g = parseConfig({ architectures: ['Gemma2ForCausalLM'], ...sizes }) as Gemma2Config;
    expect(g.layer_types).toEqual(['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention']);
    expect([g.head_dim, g.query_pre_attn_scalar, g.sliding_window, g.attn_logit_softcapping, g.final_logit_softcapping, g.tie_word_embeddings]).toEqual([256, 256, 4096, 50, 30, true]);
    expect((parseConfig({ architectures: ['Gemma2ForCausalLM'], ...sizes, final_logit_softcapping: null }) as Gemma2Config).final_logit_softcapping).toBeNull();
    const p = parseConfig({ architectures: ['Phi3ForCausalLM'], ...sizes }) as Phi3Config;
    expect([p.partial_rotary_factor, p.rms_norm_eps, p.sliding_window, p.num_key_value_heads]).toEqual([1, 1e-5, null, 4]);
  });

  it('what lowrank does not implement is a ConfigError naming the field', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['Phi3ForCausalLM', { rope_scaling: { type: 'yarn', factor: 4 } }, 'rope_scaling'],
      ['Phi3ForCausalLM', { rope_scaling: { type: 'longrope', short_factor: [1, 1], long_factor: [1] } }, 'rope_scaling.short_factor'],
      ['MistralForCausalLM', { rope_scaling: { type: 'longrope', short_factor: [1], long_factor: [1] } }, 'rope_scaling'],
      ['Phi3ForCausalLM', { partial_rotary_factor: 0.3 }, 'partial_rotary_factor'],
      ['Gemma2ForCausalLM', { hidden_activation: 'gelu' }, 'hidden_activation'],
      ['Gemma2ForCausalLM', { attn_logit_softcapping: -1 }, 'attn_logit_softcapping'],
      ['Qwen2ForCausalLM', { hidden_act: 'gelu' }, 'hidden_act'],
      ['Qwen2ForCausalLM', { layer_types: ['full_attention'] }, 'layer_types'],
      ['MistralForCausalLM', { sliding_window: 0 }, 'sliding_window'],
      ['Qwen3ForCausalLM', { head_dim: 7 }, 'head_dim'],
    ];
    for (const [arch, change, field] of cases) {
      const err = (() => {
        try {
          parseConfig({ architectures: [arch], ...FAMILIES[arch], ...change });
        } catch (e) {
          return e;
        }
      })();
      expect(err, `${arch} ${JSON.stringify(change)}`).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).field).toBe(field);
    }
  });

  const RUNS = 150;
  it(
    'fuzzing: a family config with fields replaced or removed parses and builds, or raises our typed error',
    async () => {
      const fields = [...new Set(Object.values(FAMILIES).flatMap((f) => Object.keys(f)))].concat(['layer_types', 'rope_scaling', 'attn_logit_softcapping', 'hidden_activation', 'head_dim', 'tie_word_embeddings', 'num_key_value_heads']);
      const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(0, -1, 0.5, 3, 8, 2 ** 31, null, true, 'silu', 'sliding_attention', ['sliding_attention']));
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...Object.keys(FAMILIES)), fc.array(fc.record({ field: fc.constantFrom(...fields), value: fc.option(value, { nil: undefined }) }), { minLength: 1, maxLength: 3 }), async (arch, edits) => {
          const raw: Record<string, unknown> = { architectures: [arch], ...FAMILIES[arch] };
          for (const e of edits) {
            if (e.value === undefined) delete raw[e.field];
            else raw[e.field] = e.value;
          }
          const r = await loadsOrTypedError(() => parseConfig(raw));
          if (!r.ok) return;
          const c = r.value as unknown as Record<string, number>;
          if (['hidden_size', 'vocab_size', 'intermediate_size', 'num_hidden_layers', 'head_dim'].every((k) => !(c[k] > 512))) await loadsOrTypedError(() => buildModel(r.value));
        }),
        fuzzParams(RUNS),
      );
    },
    fuzzTimeout(RUNS, 30_000),
  );
});
