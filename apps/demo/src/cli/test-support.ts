// Helpers shared by the CLI's end-to-end tests (not part of the CLI itself).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from './main.js';

/**
 * A task the random base model cannot do: "<pair>x<n>=" must be completed by
 * the pair repeated n times. The loss is on the completion only.
 */
export function writeRepeatTask(dir: string, rows = 200, seed = 1): string {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const pairs = ['ab', 'cd', 'ef', 'gh'];
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const w = pairs[Math.floor(rand() * pairs.length)];
    const n = 2 + Math.floor(rand() * 3);
    lines.push(JSON.stringify({ prompt: `${w}x${n}=`, completion: Array(n).fill(w).join(' ') }));
  }
  const file = join(dir, 'task.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `lowrank-${prefix}-`));
}

/** Runs the CLI in this process and captures what it prints. */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

/** The JSON events of a --json run. */
export function jsonEvents(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
