import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonEvents, runCli, tempDir, writeRepeatTask } from './test-support.js';

/** The same threshold as on backend-cpu (the random base scores ~5.52). */
const HELD_OUT_THRESHOLD = 4.6;

async function haveWebGpu(): Promise<boolean> {
  try {
    const specifier: string = '@lowrank/backend-webgpu';
    const mod = (await import(specifier)) as { webGpuAvailable(): Promise<boolean> };
    return await mod.webGpuAvailable();
  } catch {
    return false;
  }
}

// Under CI the WebGPU run must happen (CI installs Mesa lavapipe); elsewhere it runs when an adapter exists.
const SKIP = !(await haveWebGpu()) && process.env.CI !== 'true';
if (SKIP) console.warn('[demo] skipping the WebGPU end-to-end run: no WebGPU adapter (see ENVIRONMENT.md: Mesa 25 lavapipe)');

describe.skipIf(SKIP)('lowrank CLI end to end on backend-webgpu', () => {
  it(`fine-tunes llama-tiny until the held-out loss is below ${HELD_OUT_THRESHOLD}`, async () => {
    const dir = tempDir('e2e-webgpu');
    const data = writeRepeatTask(dir);
    const r = await runCli([
      'train', '--model', 'llama-tiny', '--data', data, '--out', join(dir, 'adapter'), '--backend', 'webgpu', '--steps', '100', '--batch-size', '8',
      '--seq-len', '24', '--lr', '0.01', '--target', 'q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj', '--seed', '3', '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const done = jsonEvents(r.stdout).find((e) => e.event === 'done')!;
    console.log(`backend-webgpu: held-out loss ${done.initialEvalLoss} -> ${done.finalEvalLoss} in ${done.seconds}s`);
    expect(done.finalEvalLoss as number).toBeLessThan(HELD_OUT_THRESHOLD);
  }, 600_000);
});
