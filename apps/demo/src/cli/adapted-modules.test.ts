// `lowrank info` lists the adapted modules as PEFT's selection rules choose
// them (all-linear, a full-match regex) on LLaMA and on Phi-3's fused modules.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BYTE_VOCAB_SIZE, createModel, parseConfig, saveModel } from '@lowrank/models';
import { afterAll, describe, expect, it } from 'vitest';
import { runInfo, type InfoArgs } from './commands/info.js';
import { adaptedModulesLine, formatIndices, groupByLayer } from './runtime/adapted-modules.js';
import { targetModulesFromCli } from './runtime/target-spec.js';
import { runCli } from './test-support.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const args = (model: string, target: string[]): InfoArgs => ({ model, variant: 'lora', r: 4, alpha: 8, target, batchSize: 1, seqLen: 8, json: true });
const layers = (n: number, block: string[]) => Array.from({ length: n }, (_, l) => block.map((m) => `model.layers.${l}.${m}`)).flat();
const LLAMA = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];
const PHI3 = ['self_attn.o_proj', 'self_attn.qkv_proj', 'mlp.gate_up_proj', 'mlp.down_proj'];

async function phi3Dir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lowrank-info-phi3-'));
  dirs.push(dir);
  const config = parseConfig({ architectures: ['Phi3ForCausalLM'], vocab_size: BYTE_VOCAB_SIZE, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 });
  await saveModel(dir, createModel(config, 1));
  return dir;
}

describe('compact listing', () => {
  it('groups layer indices into ranges', () => {
    expect(formatIndices([0, 1, 2, 3, 7, 9, 10])).toBe('{0..3,7,9..10}');
    expect(formatIndices([5])).toBe('5');
    expect(groupByLayer(['model.layers.0.a', 'model.layers.0.b', 'model.layers.1.a', 'model.layers.1.b', 'lm_head'])).toEqual(['model.layers.{0..1}.a', 'model.layers.{0..1}.b', 'lm_head']);
    expect(adaptedModulesLine(['model.layers.0.q', 'model.layers.2.q'])).toBe('adapted modules  2: model.layers.{0,2}.q');
  });

  it('--target: all-linear, one regex, or a list of names', () => {
    expect(targetModulesFromCli(['all-linear'])).toBe('all-linear');
    expect(targetModulesFromCli(['.*\\.(q|v)_proj'])).toBe('.*\\.(q|v)_proj');
    expect(targetModulesFromCli(['q_proj', 'v_proj'])).toEqual(['q_proj', 'v_proj']);
    expect(targetModulesFromCli(['q_proj'])).toEqual(['q_proj']);
  });
});

describe('lowrank info lists the adapted modules by PEFT rules', () => {
  it('LLaMA all-linear: q,k,v,o,gate,up,down of every layer, not lm_head', async () => {
    const r = await runInfo(args('llama-tiny', ['all-linear']));
    expect(r.adaptedModules).toEqual(layers(2, LLAMA));
    expect(r.text).toContain(
      'adapted modules  14: model.layers.{0..1}.self_attn.q_proj, model.layers.{0..1}.self_attn.k_proj, model.layers.{0..1}.self_attn.v_proj, model.layers.{0..1}.self_attn.o_proj, model.layers.{0..1}.mlp.gate_proj, model.layers.{0..1}.mlp.up_proj, model.layers.{0..1}.mlp.down_proj',
    );
  });

  it('LLaMA regex: full match on the module path', async () => {
    const r = await runInfo(args('llama-tiny', ['model\\.layers\\.1\\.(self_attn|mlp)\\.(q|v|down)_proj']));
    expect(r.adaptedModules).toEqual(['model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj', 'model.layers.1.mlp.down_proj']);
  });

  it('Phi-3 all-linear and regex: the fused qkv_proj and gate_up_proj, o_proj, down_proj', async () => {
    const dir = await phi3Dir();
    const all = await runInfo(args(dir, ['all-linear']));
    expect(all.architecture).toBe('Phi3ForCausalLM');
    expect(all.adaptedModules).toEqual(layers(3, PHI3));
    expect(all.text).toContain('adapted modules  12: model.layers.{0..2}.self_attn.o_proj, model.layers.{0..2}.self_attn.qkv_proj, model.layers.{0..2}.mlp.gate_up_proj, model.layers.{0..2}.mlp.down_proj');
    const fused = await runInfo(args(dir, ['.*\\.(qkv|gate_up)_proj']));
    expect(fused.adaptedModules).toEqual(['model.layers.0.self_attn.qkv_proj', 'model.layers.0.mlp.gate_up_proj', 'model.layers.1.self_attn.qkv_proj', 'model.layers.1.mlp.gate_up_proj', 'model.layers.2.self_attn.qkv_proj', 'model.layers.2.mlp.gate_up_proj']);
  });

  it('through the CLI: --target takes one regex, --json carries adaptedModules', async () => {
    const r = await runCli(['info', '--model', 'llama-tiny', '--target', '.*\\.mlp\\.(up|down)_proj', '--r', '2', '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).adaptedModules).toEqual(['model.layers.0.mlp.up_proj', 'model.layers.0.mlp.down_proj', 'model.layers.1.mlp.up_proj', 'model.layers.1.mlp.down_proj']);
  });
});
