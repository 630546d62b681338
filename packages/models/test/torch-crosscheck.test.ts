import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NDArray, evaluate } from '@lowrank/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPreset, loadModel, saveModel, traceLanguageModel } from '../src/index.js';
import { randomWeights } from './hf-reference.js';

// Debian's python3-torch installs for /usr/bin/python3; the test needs it and is skipped where it is missing.
const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch) console.warn('torch-crosscheck skipped: /usr/bin/python3 with torch is not installed (apt-get install -y python3-torch)');
const script = fileURLToPath(new URL('./torch_reference.py', import.meta.url));

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'lowrank-torch-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const B = 2;
const S = 6;
const ids = Array.from({ length: B }, (_, b) => Array.from({ length: S }, (_, t) => (b * 31 + t * 17 + 3) % 259));

describe('PyTorch float64 reference over the files lowrank writes', () => {
  for (const [preset, overrides, dtype] of [
    ['llama-tiny', { rope_theta: 500, rms_norm_eps: 1e-3 }, 'f32'],
    ['llama-tiny', { tie_word_embeddings: true, num_key_value_heads: 1 }, 'bf16'],
    ['gpt2-tiny', { layer_norm_epsilon: 1e-4 }, 'f16'],
  ] as const) {
    it.skipIf(!hasTorch)(`${preset} ${JSON.stringify(overrides)} stored as ${dtype}: logits agree to 1e-5 relative`, async () => {
      const made = createPreset(preset, { overrides });
      const weights = randomWeights(made.model.namedParams(), 41, 0.25);
      const dir = join(root, `${preset}-${dtype}-${Object.keys(overrides).join('-')}`);
      await saveModel(dir, { config: made.config, weights }, { dtype });
      const loaded = await loadModel(dir);
      const { graph } = traceLanguageModel(loaded.model, { batch: B, seqLen: S });
      const feeds: Record<string, NDArray> = { input_ids: NDArray.from([B, S], ids.flat(), 'i32') };
      for (const [n, t] of loaded.weights) feeds[n] = NDArray.fromHost(t.shape, 'f32', t.data);
      const ours = evaluate(graph, feeds, ['logits']).get('logits')!.data;
      const ref = (JSON.parse(execFileSync(PYTHON, [script, dir, JSON.stringify(ids)], { encoding: 'utf8', maxBuffer: 64 << 20 })) as number[][][]).flat(2);
      expect(ref.length).toBe(ours.length);
      const scale = Math.max(...ref.map(Math.abs));
      const err = Math.max(...ref.map((v, i) => Math.abs(v - ours[i]))) / scale;
      console.log(`${preset} ${dtype}: max relative error vs PyTorch ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
    });
  }
});
