import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createReferenceBackend, type HostTensor } from '@lowrank/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  MissingShardError,
  UnsupportedArchitectureError,
  WeightMismatchError,
  buildModel,
  createPreset,
  loadModel,
  openCheckpoint,
  presetConfig,
  readGenerationDefaults,
  saveModel,
  traceLanguageModel,
  writeSafetensors,
  type LanguageModel,
} from '../src/index.js';
import { toBf16, toF16 } from './half.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lowrank-models-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const ids = Int32Array.from({ length: 10 }, (_, i) => (i * 37 + 5) % 259);

/** f32 logits on the reference backend (float64 inside, f32 results). */
async function logits(model: LanguageModel, weights: ReadonlyMap<string, HostTensor>): Promise<Float32Array> {
  const { graph } = traceLanguageModel(model, { batch: 2, seqLen: 5 });
  const exe = await createReferenceBackend({ float64Results: false }).compile(graph);
  await exe.setParameters(Object.fromEntries([...graph.params.keys()].map((n) => [n, weights.get(n)!])));
  const out = await exe.run({ input_ids: { shape: [2, 5], dtype: 'i32', data: ids } });
  return out.logits.data as Float32Array;
}

describe('save and load', () => {
  for (const preset of ['llama-tiny', 'gpt2-tiny']) {
    it(`${preset}: saved and loaded back gives bit-identical weights and logits`, async () => {
      const dir = join(root, preset);
      const made = createPreset(preset, { seed: 3 });
      const files = await saveModel(dir, made);
      expect(files).toEqual(expect.arrayContaining(['model.safetensors', 'config.json', 'generation_config.json']));
      const loaded = await loadModel(dir);
      expect(loaded.config).toEqual(made.config);
      expect(loaded.unused).toEqual([]);
      expect([...loaded.weights.keys()].sort()).toEqual([...made.weights.keys()].sort());
      for (const [n, t] of made.weights) expect(loaded.weights.get(n)!.data, n).toEqual(t.data);
      const a = await logits(made.model, made.weights);
      const b = await logits(loaded.model, loaded.weights);
      expect(b).toEqual(a);
      expect(new Set(a).size).toBeGreaterThan(100);
      // Metadata and config as transformers expects them.
      const ckpt = await openCheckpoint(dir);
      expect(ckpt.files[0].metadata).toEqual({ format: 'pt' });
      if (preset === 'gpt2-tiny') {
        expect(ckpt.has('lm_head.weight')).toBe(false);
        expect(ckpt.entry('transformer.h.0.attn.c_attn.weight').shape).toEqual([64, 192]);
      } else {
        expect(ckpt.entry('model.layers.0.self_attn.k_proj.weight').shape).toEqual([32, 64]);
        expect(ckpt.has('lm_head.weight')).toBe(true);
      }
      await ckpt.close();
      const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(cfg.torch_dtype).toBe('float32');
      const gen = await readGenerationDefaults(dir, loaded.config);
      expect(gen.stopTokens).toEqual([257]);
      expect(gen.bosTokenId).toBe(256);
      await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [257, 10], do_sample: true, top_p: 0.9 }));
      const edited = await readGenerationDefaults(dir, loaded.config);
      expect(edited).toMatchObject({ stopTokens: [257, 10], doSample: true, topP: 0.9, bosTokenId: 256 });
      expect(cfg.architectures).toEqual([preset === 'gpt2-tiny' ? 'GPT2LMHeadModel' : 'LlamaForCausalLM']);
    });
  }

  for (const [dtype, round] of [
    ['f16', toF16],
    ['bf16', toBf16],
  ] as const) {
    it(`llama-tiny saved as ${dtype} loads with ${dtype} rounding of every weight`, async () => {
      const dir = join(root, `llama-${dtype}`);
      const made = createPreset('llama-tiny', { seed: 4 });
      await saveModel(dir, made, { dtype });
      const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(cfg.torch_dtype).toBe(dtype === 'f16' ? 'float16' : 'bfloat16');
      const loaded = await loadModel(dir);
      let changed = 0;
      for (const [n, t] of made.weights) {
        const got = loaded.weights.get(n)!.data;
        for (let i = 0; i < t.data.length; i++) {
          const want = round(t.data[i]);
          if (got[i] !== want) expect.fail(`${n}[${i}]: ${t.data[i]} loaded as ${got[i]}, expected ${want}`);
          if (want !== t.data[i]) changed++;
        }
      }
      expect(changed).toBeGreaterThan(1000);
    });
  }

  it('sharded save loads back identically; a missing shard is a typed error', async () => {
    const dir = join(root, 'sharded');
    const made = createPreset('llama-tiny', { seed: 5 });
    const files = await saveModel(dir, made, { maxShardBytes: 64 * 1024 });
    const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(2);
    const loaded = await loadModel(dir);
    for (const [n, t] of made.weights) expect(loaded.weights.get(n)!.data).toEqual(t.data);
    await unlink(join(dir, shards[1]));
    await expect(loadModel(dir)).rejects.toBeInstanceOf(MissingShardError);
  });

  it('reads hub-style GPT-2 checkpoints (no transformer. prefix, attention-mask buffers)', async () => {
    const dir = join(root, 'gpt2-hub');
    const made = createPreset('gpt2-tiny', { seed: 6 });
    await saveModel(dir, made);
    const renamed = new Map<string, HostTensor>([...made.weights].map(([n, t]) => [n.replace(/^transformer\./, ''), t]));
    renamed.set('h.0.attn.bias', { shape: [1, 1, 4, 4], dtype: 'f32', data: new Float32Array(16).fill(1) });
    await writeSafetensors(join(dir, 'model.safetensors'), renamed, { metadata: { format: 'pt' } });
    const loaded = await loadModel(dir);
    expect(loaded.unused).toEqual([]);
    expect(loaded.weights.get('transformer.wte.weight')!.data).toEqual(made.weights.get('transformer.wte.weight')!.data);
  });

  it('a config naming an unsupported architecture is a typed error', async () => {
    const dir = join(root, 'bert');
    await saveModel(dir, createPreset('llama-tiny'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ architectures: ['BertForMaskedLM'], hidden_size: 8 }));
    const err = await loadModel(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedArchitectureError);
    expect((err as UnsupportedArchitectureError).architecture).toBe('BertForMaskedLM');
    expect((err as Error).message).toContain('LlamaForCausalLM');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 't5' }));
    await expect(loadModel(dir)).rejects.toBeInstanceOf(UnsupportedArchitectureError);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], hidden_size: 8 }));
    await expect(loadModel(dir)).rejects.toBeInstanceOf(ConfigError);
  });

  it('weights that do not fit the config are a typed error listing what differs', async () => {
    const dir = join(root, 'mismatch');
    const made = createPreset('llama-tiny', { seed: 7 });
    await saveModel(dir, made);
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, num_key_value_heads: 4 }));
    const err = (await loadModel(dir).catch((e: unknown) => e)) as WeightMismatchError;
    expect(err).toBeInstanceOf(WeightMismatchError);
    expect(err.wrongShape.map((w) => w.name)).toContain('model.layers.0.self_attn.k_proj.weight');
    const partial = new Map(made.weights);
    partial.delete('model.norm.weight');
    await expect(saveModel(join(root, 'partial'), { config: made.config, weights: partial })).rejects.toBeInstanceOf(WeightMismatchError);
  });

  it('presets have the advertised sizes', () => {
    const count = (m: LanguageModel) => [...m.namedParams().values()].reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    const bench = buildModel(presetConfig('llama-bench'));
    expect(count(bench)).toBeGreaterThan(24e6);
    expect(count(bench)).toBeLessThan(27e6);
    const tiny = presetConfig('llama-tiny');
    expect(tiny.model_type === 'llama' && tiny.num_key_value_heads).toBe(2);
  });
});
