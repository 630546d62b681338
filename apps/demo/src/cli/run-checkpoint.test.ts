import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrainerState } from '@lowrank/core';
import { checkSameRun, findLatestCheckpoint, RunCheckpointError, saveRunCheckpoint, stepDirName } from './run-checkpoint.js';

const state = (step: number): TrainerState => ({
  step,
  microStep: step * 2,
  seed: 5,
  data: { epoch: 1, offset: step },
  hooks: { dylora: { rank: 3 } },
  tensors: {
    'a.lora_A.weight': { shape: [2, 2], dtype: 'f32', data: Float64Array.of(0.1, 1 / 3, Math.PI, -step) },
    'optim.m.a.lora_A.weight': { shape: [2, 2], dtype: 'f32', data: Float32Array.of(1.5, -2, 3, step) },
    counter: { shape: [1], dtype: 'i32', data: Int32Array.of(step) },
  },
});

const writeAdapter = async (dir: string) => writeFileSync(join(dir, 'adapter_config.json'), '{"peft_type":"LORA"}');

describe('resumable run checkpoints', () => {
  it('round-trips every tensor bit for bit, float64 included, and the run state', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lowrank-ck-'));
    const dir = await saveRunCheckpoint(out, state(4), { run: { lr: 0.1 }, writeAdapter });
    expect(dir).toBe(join(out, 'checkpoints', stepDirName(4)));
    expect(existsSync(join(dir, 'adapter_config.json'))).toBe(true);
    const back = await findLatestCheckpoint(out);
    const s = state(4);
    expect(back?.state.step).toBe(4);
    expect(back?.state.microStep).toBe(8);
    expect(back?.state.data).toEqual(s.data);
    expect(back?.state.hooks).toEqual(s.hooks);
    expect(back?.run).toEqual({ lr: 0.1 });
    for (const [n, t] of Object.entries(s.tensors)) {
      const got = back!.state.tensors[n];
      expect(got.data.constructor).toBe(t.data.constructor);
      expect(Array.from(got.data)).toEqual(Array.from(t.data));
      expect(got.shape).toEqual(t.shape);
    }
  });

  it('keeps the last two, and falls back to the previous one when the newest is torn', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lowrank-ck-'));
    for (const step of [2, 4, 6]) await saveRunCheckpoint(out, state(step), { run: {}, writeAdapter });
    expect(readdirSync(join(out, 'checkpoints')).sort()).toEqual(['latest', stepDirName(4), stepDirName(6)]);
    expect(readFileSync(join(out, 'checkpoints', 'latest'), 'utf8')).toBe(stepDirName(6));
    const bin = join(out, 'checkpoints', stepDirName(6), 'trainer_tensors.bin');
    const bytes = readFileSync(bin);
    writeFileSync(bin, bytes.subarray(0, bytes.length - 3));
    expect((await findLatestCheckpoint(out))?.state.step).toBe(4);
    expect(await findLatestCheckpoint(join(out, 'nowhere'))).toBeUndefined();
  });

  it('refuses to resume a run whose settings changed, naming the setting', () => {
    expect(() => checkSameRun({ lr: 0.1, r: 8 }, { lr: 0.1, r: 16 }, 'ck')).toThrow(RunCheckpointError);
    expect(() => checkSameRun({ lr: 0.1, r: 8 }, { lr: 0.1, r: 16 }, 'ck')).toThrow(/ck was written with r = 8 but this run has 16/);
    expect(() => checkSameRun({ lr: 0.1 }, { lr: 0.1 }, 'ck')).not.toThrow();
  });
});
