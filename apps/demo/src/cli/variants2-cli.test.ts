// The CLI drives the issue-9 variants that act through trainer hooks: DyLoRA
// (rank drawn per step, saved at full rank as plain LoRA) and LoRA-drop's rank dropout.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonEvents, runCli, tempDir, writeRepeatTask } from './test-support.js';

const dirs: string[] = [];
const newDir = (): string => {
  const d = tempDir('variants2');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('lowrank train --variant dylora | lora-drop | adalora', () => {
  for (const variant of ['dylora', 'lora-drop']) {
    it(`${variant}: trains, reports per-step ranks, saves a PEFT LoRA adapter that eval loads`, async () => {
      const dir = newDir();
      const data = writeRepeatTask(dir);
      const out = join(dir, variant);
      const r = await runCli(['train', '--model', 'llama-tiny', '--data', data, '--out', out, '--backend', 'cpu', '--steps', '12', '--batch-size', '8', '--seq-len', '24', '--lr', '0.01', '--r', '4', '--dropout', '0.25', '--seed', '3', '--variant', variant, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const steps = jsonEvents(r.stdout).filter((e) => e.event === 'step');
      expect(steps).toHaveLength(12);
      expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);
      if (variant === 'dylora') {
        const drawn = new Set(steps.map((s) => Object.values(s.activeRanks as Record<string, number>)[0]));
        expect(drawn.size).toBeGreaterThan(1);
        for (const b of drawn) expect(b >= 1 && b <= 4).toBe(true);
      }
      const ev = await runCli(['eval', '--model', 'llama-tiny', '--adapter', out, '--data', data, '--batch-size', '8', '--seq-len', '24', '--json']);
      expect(ev.code).toBe(0);
    }, 120_000);
  }

  it('adalora: prunes the rank budget to target_r = r/2 per layer and saves a PEFT ADALORA adapter with its rank_pattern', async () => {
    const dir = newDir();
    const out = join(dir, 'adalora');
    const r = await runCli(['train', '--model', 'llama-tiny', '--data', writeRepeatTask(dir), '--out', out, '--backend', 'cpu', '--steps', '20', '--batch-size', '8', '--seq-len', '24', '--r', '4', '--seed', '3', '--variant', 'adalora', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const steps = jsonEvents(r.stdout).filter((e) => e.event === 'step');
    const total = (s: Record<string, unknown>) => Object.values(s.activeRanks as Record<string, number>).reduce((a, b) => a + b, 0);
    const layers = Object.keys(steps[0].activeRanks as Record<string, number>).length;
    expect(total(steps[0])).toBe(4 * layers);
    expect(total(steps.at(-1)!)).toBe(2 * layers);
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as { peft_type: string; rank_pattern: Record<string, boolean[]> };
    expect(config.peft_type).toBe('ADALORA');
    const kept = Object.values(config.rank_pattern).reduce((s, flags) => s + flags.filter(Boolean).length, 0);
    expect(kept).toBe(2 * layers);
    const noSteps = await runCli(['train', '--model', 'llama-tiny', '--data', writeRepeatTask(dir), '--out', join(dir, 'b'), '--steps', '2', '--variant', 'adalora']);
    expect(noSteps.code).not.toBe(0);
    expect(noSteps.stderr).toMatch(/--steps >= 10/);
  }, 120_000);
});
