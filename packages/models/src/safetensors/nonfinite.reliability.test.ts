import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAdapter, saveAdapter } from '../peft/adapter-io.js';
import { readSafetensors } from './reader.js';
import { NonFiniteTensorError, writeSafetensors } from './writer.js';

const A = 'model.layers.0.self_attn.q_proj.lora_A.weight';
const B = 'model.layers.0.self_attn.q_proj.lora_B.weight';
const t = (values: number[]) => ({ shape: [values.length], dtype: 'f32' as const, data: Float32Array.from(values) });

describe('non-finite weights are never written to disk', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    it(`writeSafetensors refuses ${bad} and leaves the previous file intact`, async () => {
      const path = join(await mkdtemp(join(tmpdir(), 'lowrank-nf-')), 'w.safetensors');
      await writeSafetensors(path, { w: t([1, 2, 3]) });
      const err = await writeSafetensors(path, { w: t([1, bad, 3]) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteTensorError);
      expect((err as NonFiniteTensorError).index).toBe(1);
      expect((err as Error).message).toMatch(/tensor 'w'.*element 1 is .*non-finite weights are never saved/);
      expect(Array.from((await readSafetensors(path)).get('w')!.data)).toEqual([1, 2, 3]);
    });
  }

  it('saveAdapter refuses a diverged adapter; the saved one still loads unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lowrank-nf-adapter-'));
    const good = { [A]: { shape: [1, 2], dtype: 'f32' as const, data: Float32Array.of(0.5, 0.25) }, [B]: { shape: [2, 1], dtype: 'f32' as const, data: Float32Array.of(1, 2) } };
    await saveAdapter(dir, { r: 1, target_modules: ['q_proj'] }, good);
    const diverged = { ...good, [B]: { shape: [2, 1], dtype: 'f32' as const, data: Float32Array.of(1, Number.NaN) } };
    await expect(saveAdapter(dir, { r: 1, target_modules: ['q_proj'] }, diverged)).rejects.toBeInstanceOf(NonFiniteTensorError);
    const loaded = await loadAdapter(dir);
    expect(Array.from(loaded.tensors.get(B)!.data)).toEqual([1, 2]);
  });

  it('allowNonFinite writes them when a caller really means it (not a weights path)', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'lowrank-nf-')), 'mask.safetensors');
    await writeSafetensors(path, { mask: t([0, Number.NEGATIVE_INFINITY]) }, { allowNonFinite: true });
    expect(Array.from((await readSafetensors(path)).get('mask')!.data)).toEqual([0, Number.NEGATIVE_INFINITY]);
  });
});
