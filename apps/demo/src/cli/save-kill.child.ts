// Child process of save-kill.reliability.test.ts (not part of the CLI): resumes from the latest
// checkpoint in <out> (if any), then saves checkpoints and a standalone adapter in a tight loop,
// printing `saved <step>` after each completed save, until it is killed. Started with
// LOWRANK_SAVE_KILL_OUT=<out>; importing it (the test does, for the expected values) runs nothing.
import { join } from 'node:path';
import type { HostTensor, TrainerState } from '@lowrank/core';
import { saveAdapter } from '@lowrank/models';
import { findLatestCheckpoint, saveRunCheckpoint } from './run-checkpoint.js';

export const MODULES = ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj'];
export const R = 8;
export const IN = 2048;

/** Every tensor of step `step` is filled from the step number, so a loaded file tells which save it came from. */
export function tensorsAt(step: number): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [m, mod] of MODULES.entries()) {
    const fill = (k: number) => Float32Array.from({ length: R * IN }, (_, i) => step + m * 0.25 + k * 0.125 + (i % 7) * 1e-3);
    out[`${mod}.lora_A.weight`] = { shape: [R, IN], dtype: 'f32', data: fill(0) };
    out[`${mod}.lora_B.weight`] = { shape: [IN, R], dtype: 'f32', data: fill(1) };
    out[`optim.m.${mod}.lora_A.weight`] = { shape: [R, IN], dtype: 'f32', data: fill(2) };
  }
  return out;
}

export function stateAt(step: number): TrainerState {
  return { step, microStep: step * 2, seed: 7, data: { epoch: 0, row: step * 4 }, tensors: tensorsAt(step), hooks: {} };
}

async function main(out: string): Promise<void> {
  const resumed = await findLatestCheckpoint(out);
  let step = resumed ? resumed.state.step : 0;
  process.stdout.write(`ready ${step}\n`);
  for (;;) {
    step++;
    const state = stateAt(step);
    await saveRunCheckpoint(out, state, {
      run: { task: 'save-kill' },
      keep: 2,
      writeAdapter: async (dir) => {
        await saveAdapter(dir, { r: R, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'] }, state.tensors);
      },
    });
    await saveAdapter(join(out, 'adapter'), { r: R, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'] }, state.tensors);
    process.stdout.write(`saved ${step}\n`);
  }
}

const outDir = process.env.LOWRANK_SAVE_KILL_OUT;
if (outDir) await main(outDir);
