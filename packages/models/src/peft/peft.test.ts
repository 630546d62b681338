import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate, NDArray, type HostTensor } from '@lowrank/core';
import { applyAdapters, initialAdapterState, setAdapterTraining, type LoraConfig } from '@lowrank/variants';
import { afterAll, describe, expect, it } from 'vitest';
import { traceLanguageModel } from '../forward.js';
import { createPreset } from '../io/presets.js';
import { writeSafetensors, openSafetensors } from '../safetensors/index.js';
import { loadAdapter, saveAdapter, compareWithModel } from './adapter-io.js';
import { AdapterMismatchError, UnknownPeftTypeError } from './errors.js';
import { fromPeftKey, parseAdapterParam, toPeftKey } from './keys.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lowrank-peft-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const IDS = [72, 101, 108, 108, 111, 33];

function logitsOf(model: ReturnType<typeof createPreset>['model'], weights: ReadonlyMap<string, HostTensor>): Float64Array {
  const { graph } = traceLanguageModel(model, { batch: 1, seqLen: IDS.length });
  const feeds: Record<string, NDArray> = { input_ids: NDArray.from([1, IDS.length], IDS, 'i32') };
  for (const [k, v] of weights) if (graph.params.has(k)) feeds[k] = NDArray.fromHost(v.shape, v.dtype, v.data);
  return evaluate(graph, feeds).get('logits')!.data;
}

/** Seeded values in [-0.5, 0.5) (a small LCG, independent of the code under test). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

describe('PEFT key names', () => {
  it('maps lowrank parameter names to PEFT keys and back', () => {
    const p = parseAdapterParam('model.layers.0.self_attn.q_proj.lora_A.weight')!;
    expect(p).toEqual({ module: 'model.layers.0.self_attn.q_proj', kind: 'lora_A', adapter: 'default' });
    expect(toPeftKey(p)).toBe('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(toPeftKey(parseAdapterParam('x.v_proj.lora_B.style.weight')!)).toBe('base_model.model.x.v_proj.lora_B.weight');
    expect(toPeftKey(parseAdapterParam('x.v_proj.lora_magnitude_vector')!)).toBe('base_model.model.x.v_proj.lora_magnitude_vector');
    expect(fromPeftKey('base_model.model.x.q_proj.lora_B.weight', 'style')).toBe('x.q_proj.lora_B.style.weight');
    expect(fromPeftKey('base_model.model.x.q_proj.lora_magnitude_vector')).toBe('x.q_proj.lora_magnitude_vector');
    expect(parseAdapterParam('model.layers.0.self_attn.q_proj.weight')).toBeNull();
  });
});

describe('PEFT adapter directories', () => {
  it('an adapter saved by lowrank loads back identically (LoRA + DoRA tensors, config fields)', async () => {
    const { model, weights } = createPreset('llama-tiny', { seed: 1 });
    const config: LoraConfig = { r: 4, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], use_dora: true, lora_dropout: 0.1, init_lora_weights: false, rank_pattern: { v_proj: 2 } };
    applyAdapters(model, config);
    const adapter = initialAdapterState(model, weights, { seed: 3 });
    const dir = await tempDir();
    const { keys } = await saveAdapter(dir, config, adapter);
    expect(keys).toContain('base_model.model.model.layers.1.self_attn.v_proj.lora_magnitude_vector');
    const file = await openSafetensors(join(dir, 'adapter_model.safetensors'));
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.entry('base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight').shape).toEqual([2, 64]);
    await file.close();
    const loaded = await loadAdapter(dir, { model });
    expect(loaded.config).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], use_dora: true, lora_dropout: 0.1, rank_pattern: { v_proj: 2 } });
    expect([...loaded.tensors.keys()].sort()).toEqual([...adapter.keys()].sort());
    for (const [name, t] of adapter) {
      expect(loaded.tensors.get(name)!.shape).toEqual(t.shape);
      expect(Array.from(loaded.tensors.get(name)!.data)).toEqual(Array.from(t.data));
    }
  });

  it("a directory laid out as PEFT writes it loads and gives W + (α/r)·B·A's logits", async () => {
    const dir = await tempDir();
    const r = 2;
    const alpha = 8;
    // adapter_config.json with PEFT's field names (as peft 0.13 writes them).
    const peftConfig = {
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: 'lowrank/llama-tiny',
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layer_replication: null,
      layers_to_transform: null,
      layers_pattern: null,
      lora_alpha: alpha,
      lora_dropout: 0.05,
      megatron_config: null,
      megatron_core: 'megatron.core',
      modules_to_save: null,
      peft_type: 'LORA',
      r,
      rank_pattern: {},
      revision: null,
      target_modules: ['v_proj', 'q_proj'],
      task_type: 'CAUSAL_LM',
      use_dora: false,
      use_rslora: false,
    };
    await writeFile(join(dir, 'adapter_config.json'), JSON.stringify(peftConfig, null, 2));
    const tensors = new Map<string, HostTensor>();
    let seed = 10;
    for (const layer of [0, 1]) {
      for (const proj of ['q_proj', 'v_proj']) {
        const out = proj === 'q_proj' ? 64 : 32; // 2 KV heads of 16
        const key = `base_model.model.model.layers.${layer}.self_attn.${proj}`;
        tensors.set(`${key}.lora_A.weight`, { shape: [r, 64], dtype: 'f32', data: values(r * 64, seed++) });
        tensors.set(`${key}.lora_B.weight`, { shape: [out, r], dtype: 'f32', data: values(out * r, seed++) });
      }
    }
    await writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { metadata: { format: 'pt' } });

    const { model, weights } = createPreset('llama-tiny', { seed: 2 });
    const loaded = await loadAdapter(dir);
    const applied = applyAdapters(model, loaded.config);
    expect(applied.layers).toHaveLength(4);
    // Inference: lora_dropout (0.05 here) is off.
    setAdapterTraining(model, false);
    expect(compareWithModel(model, 'default', loaded.tensors)).toEqual([]);
    const got = logitsOf(model, new Map([...weights, ...loaded.tensors]));

    // Independent expectation: the plain model with W' = W + (α/r)·B·A computed here.
    const plain = createPreset('llama-tiny', { seed: 2 });
    const merged = new Map(plain.weights as Map<string, HostTensor>);
    for (const layer of [0, 1]) {
      for (const proj of ['q_proj', 'v_proj']) {
        const name = `model.layers.${layer}.self_attn.${proj}.weight`;
        const key = `base_model.model.model.layers.${layer}.self_attn.${proj}`;
        const w = merged.get(name)!;
        const [outF, inF] = w.shape;
        const A = tensors.get(`${key}.lora_A.weight`)!.data;
        const B = tensors.get(`${key}.lora_B.weight`)!.data;
        const data = new Float64Array(outF * inF);
        for (let o = 0; o < outF; o++) {
          for (let i = 0; i < inF; i++) {
            let ba = 0;
            for (let k = 0; k < r; k++) ba += B[o * r + k] * A[k * inF + i];
            data[o * inF + i] = w.data[o * inF + i] + (alpha / r) * ba;
          }
        }
        merged.set(name, { shape: w.shape, dtype: 'f32', data });
      }
    }
    const want = logitsOf(plain.model, merged);
    const base = logitsOf(plain.model, plain.weights as Map<string, HostTensor>);
    let worst = 0;
    let scale = 0;
    let moved = 0;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
      moved = Math.max(moved, Math.abs(want[i] - base[i]));
    }
    expect(worst / scale).toBeLessThan(1e-9);
    expect(moved / scale).toBeGreaterThan(1e-3);
  });

  it('mismatches are typed errors that list every difference', async () => {
    const { model, weights } = createPreset('llama-tiny', { seed: 1 });
    applyAdapters(model, { r: 4, target_modules: ['q_proj', 'v_proj'], init_lora_weights: false });
    const adapter = initialAdapterState(model, weights, { seed: 3 });
    // Drop layer 1's v_proj, give layer 0's q_proj A the wrong rank, add an o_proj the model does not adapt.
    const broken = new Map(adapter);
    broken.delete('model.layers.1.self_attn.v_proj.lora_A.weight');
    broken.set('model.layers.0.self_attn.q_proj.lora_A.weight', { shape: [3, 64], dtype: 'f32', data: new Float32Array(192) });
    broken.set('model.layers.0.self_attn.o_proj.lora_A.weight', { shape: [4, 64], dtype: 'f32', data: new Float32Array(256) });
    const dir = await tempDir();
    await saveAdapter(dir, { r: 4, target_modules: ['q_proj', 'v_proj'] }, broken);
    const err = await loadAdapter(dir, { model }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterMismatchError);
    const diffs = (err as AdapterMismatchError).differences;
    expect(diffs.map((d) => `${d.kind} ${d.key}`).sort()).toEqual([
      'missing base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight',
      'shape base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
      'unexpected base_model.model.model.layers.0.self_attn.o_proj.lora_A.weight',
    ]);
    expect((err as Error).message).toMatch(/file has \[3, 64\], the model expects \[4, 64\]/);

    const other = await tempDir();
    await writeFile(join(other, 'adapter_config.json'), JSON.stringify({ peft_type: 'PREFIX_TUNING', num_virtual_tokens: 20 }));
    await expect(loadAdapter(other)).rejects.toThrow(UnknownPeftTypeError);
    await expect(loadAdapter(other)).rejects.toThrow(/peft_type 'PREFIX_TUNING' is not supported/);
  });
});
