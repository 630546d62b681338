import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyAdapters, initialAdapterState } from '@lowrank/variants';
import { describe, expect, it } from 'vitest';
import { SequenceTooLongError } from '../errors.js';
import { traceLanguageModel } from '../forward.js';
import { createPreset } from '../io/presets.js';
import { loadAdapter, saveAdapter } from '../peft/adapter-io.js';
import { AdapterMismatchError } from '../peft/errors.js';

const tempDir = () => mkdtemp(join(tmpdir(), 'lowrank-mismatch-'));

describe('model/adapter mismatches and out-of-range inputs are typed errors that name the fix', () => {
  it('an adapter trained with a rank_pattern, loaded into a model without it: every differing module is listed', async () => {
    const trained = createPreset('llama-tiny', { seed: 1 });
    applyAdapters(trained.model, { r: 4, target_modules: ['q_proj', 'v_proj'], rank_pattern: { v_proj: 2 }, init_lora_weights: false });
    const dir = await tempDir();
    await saveAdapter(dir, { r: 4, target_modules: ['q_proj', 'v_proj'], rank_pattern: { v_proj: 2 } }, initialAdapterState(trained.model, trained.weights, { seed: 2 }));

    const plain = createPreset('llama-tiny', { seed: 1 });
    applyAdapters(plain.model, { r: 4, target_modules: ['q_proj', 'v_proj'] });
    const err = await loadAdapter(dir, { model: plain.model }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterMismatchError);
    const diffs = (err as AdapterMismatchError).differences;
    expect(diffs.length).toBeGreaterThan(0);
    expect(diffs.every((d) => d.kind === 'shape' && /v_proj/.test(d.key))).toBe(true);
    expect((err as Error).message).toMatch(/Apply the adapter config the file was trained with \(same target_modules, r/);
  });

  it('an adapter for modules the model does not adapt (missing and unexpected modules)', async () => {
    const a = createPreset('llama-tiny', { seed: 1 });
    applyAdapters(a.model, { r: 2, target_modules: ['o_proj'] });
    const dir = await tempDir();
    await saveAdapter(dir, { r: 2, target_modules: ['o_proj'] }, initialAdapterState(a.model, a.weights, { seed: 2 }));
    const b = createPreset('llama-tiny', { seed: 1 });
    applyAdapters(b.model, { r: 2, target_modules: ['q_proj'] });
    const err = await loadAdapter(dir, { model: b.model }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterMismatchError);
    const kinds = new Set((err as AdapterMismatchError).differences.map((d) => d.kind));
    expect([...kinds].sort()).toEqual(['missing', 'unexpected']);
    expect((err as Error).message).toMatch(/the model has no adapter on this module \(target_modules differ/);
  });

  it('a sequence longer than the model positions fails before tracing, with the limit and the fix', () => {
    for (const preset of ['llama-tiny', 'gpt2-tiny']) {
      const { model } = createPreset(preset);
      const max = model.cacheLayout().maxPositions;
      expect(() => traceLanguageModel(model, { batch: 1, seqLen: max })).not.toThrow();
      const err = (() => {
        try {
          traceLanguageModel(model, { batch: 1, seqLen: max + 1 });
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(SequenceTooLongError);
      expect((err as SequenceTooLongError).maxPositions).toBe(max);
      expect((err as Error).message).toMatch(new RegExp(`lower --seq-len .* to at most ${max}`));
    }
  });
});
