import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { jsonEvents, runCli, tempDir, writeRepeatTask } from './test-support.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** Starts the CLI in a child process and sends `signal` once it reports the checkpoint of step `killAfter`. */
function runUntilKilled(args: string[], killAfter: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<{ stdout: string; killed: boolean; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', TSX, MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!killed && jsonEvents(stdout).some((e) => e.event === 'note' && e.step === killAfter && typeof e.checkpoint === 'string')) {
        killed = child.kill(signal);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (!killed) reject(new Error(`child ended (code ${code}, signal ${signal}) before the kill point: ${stderr}`));
      else resolve({ stdout, killed: signal !== null || code === 130, code });
    });
  });
}

const losses = (stdout: string) => new Map(jsonEvents(stdout).filter((e) => e.event === 'step').map((e) => [e.step as number, e.loss as number]));

describe('interrupt and resume', () => {
  it('a run killed mid-way and resumed from its checkpoint gives the identical loss sequence (backend-cpu)', async () => {
    const dir = tempDir('resume');
    const data = writeRepeatTask(dir, 120);
    const common = ['train', '--model', 'llama-tiny', '--data', data, '--backend', 'cpu', '--steps', '24', '--batch-size', '4', '--seq-len', '24', '--lr', '0.01', '--dropout', '0.1', '--grad-accum', '2', '--schedule', 'cosine', '--warmup-steps', '3', '--seed', '11', '--save-every', '4', '--json'];

    const straight = await runCli([...common, '--out', join(dir, 'straight')]);
    expect(straight.code).toBe(0);
    const expected = losses(straight.stdout);
    expect(expected.size).toBe(24);

    const out = join(dir, 'interrupted');
    const first = await runUntilKilled([...common, '--out', out], 12);
    expect(first.killed).toBe(true);
    const firstLosses = losses(first.stdout);
    expect(firstLosses.size).toBeLessThan(24);

    const resumed = await runCli([...common, '--out', out, '--resume']);
    expect(resumed.code).toBe(0);
    const note = jsonEvents(resumed.stdout).find((e) => e.event === 'note' && typeof e.resumedFrom === 'string')!;
    const from = note.step as number;
    expect(from).toBeGreaterThanOrEqual(12);
    const after = losses(resumed.stdout);
    expect([...after.keys()]).toEqual(Array.from({ length: 24 - from }, (_, i) => from + 1 + i));
    const combined = Array.from({ length: 24 }, (_, i) => (i + 1 <= from ? firstLosses.get(i + 1) : after.get(i + 1)));
    expect(combined).toEqual([...expected.values()]);
  });

  it('SIGTERM stops after the current step with a checkpoint, exit code 130, and --resume finishes the run', async () => {
    const dir = tempDir('sigterm');
    const data = writeRepeatTask(dir, 60);
    const args = ['train', '--model', 'llama-tiny', '--data', data, '--backend', 'cpu', '--steps', '100', '--batch-size', '2', '--seq-len', '16', '--save-every', '2', '--out', join(dir, 'out'), '--json'];
    const first = await runUntilKilled(args, 2, 'SIGTERM');
    expect(first.code).toBe(130);
    const note = jsonEvents(first.stdout).find((e) => e.event === 'note' && String(e.message).startsWith('interrupted'))!;
    const stoppedAt = note.step as number;
    expect(stoppedAt).toBeGreaterThanOrEqual(2);
    expect(stoppedAt).toBeLessThan(100);
    const resumed = await runCli([...args, '--resume']);
    expect(resumed.code).toBe(0);
    const steps = jsonEvents(resumed.stdout).filter((e) => e.event === 'step').map((e) => e.step);
    expect(steps[0]).toBe(stoppedAt + 1);
    expect(steps.at(-1)).toBe(100);
  });
});
