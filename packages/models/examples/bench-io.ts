// Save and load speed of the llama-bench preset as a Hugging Face directory.
// Run: pnpm --filter @lowrank/models exec tsx --conditions=source examples/bench-io.ts
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPreset, loadModel, saveModel } from '../src/index.js';

const made = createPreset('llama-bench', { seed: 1 });
const root = await mkdtemp(join(tmpdir(), 'lowrank-bench-io-'));
try {
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    const dir = join(root, dtype);
    let t = performance.now();
    await saveModel(dir, made, { dtype });
    const saveMs = performance.now() - t;
    const bytes = (await stat(join(dir, 'model.safetensors'))).size;
    t = performance.now();
    await loadModel(dir);
    const loadMs = performance.now() - t;
    console.log(JSON.stringify({ dtype, megabytes: +(bytes / 1e6).toFixed(1), saveMs: Math.round(saveMs), loadMs: Math.round(loadMs), loadMBps: Math.round(bytes / 1e6 / (loadMs / 1000)) }));
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
