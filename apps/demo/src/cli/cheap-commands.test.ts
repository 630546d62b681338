import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processTensorReads } from '@lowrank/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTinyLlama, writeWordData } from './fixture-support.js';
import { runCli, tempDir } from './test-support.js';

/** Runs the CLI and returns its result with the tensor bytes this process read meanwhile. */
async function counted(args: string[]): Promise<{ code: number; stdout: string; stderr: string; bytesRead: number; ms: number }> {
  const before = processTensorReads.bytes;
  const t = performance.now();
  const r = await runCli(args);
  return { ...r, bytesRead: processTensorReads.bytes - before, ms: performance.now() - t };
}

/** NF4 + double quantization bytes of one [out, in] weight, from its shape: codes, 8-bit absmax per 64, f32 scale per 256 blocks, f32 offset. */
function nf4Bytes(n: number): number {
  const blocks = n / 64;
  return n / 2 + blocks + 4 * Math.ceil(blocks / 256) + 4;
}

describe('cheap commands stay cheap', () => {
  const dir = tempDir('cheap');
  let model = '';
  let noTokenizer = '';
  let deep = '';
  let data = '';
  beforeAll(async () => {
    model = await writeTinyLlama(dir, 'model');
    noTokenizer = join(dir, 'no-tokenizer');
    cpSync(model, noTokenizer, { recursive: true });
    rmSync(join(noTokenizer, 'tokenizer.json'));
    // 22 layers like TinyLlama-1.1B, narrow, in two shards and without a tokenizer
    deep = await writeTinyLlama(dir, 'deep', { layers: 22, hidden: 64, intermediate: 176, heads: 8, kvHeads: 2, vocab: 512, tokenizer: false, maxShardBytes: 400_000 });
    data = writeWordData(dir);
  });

  it('info reads config.json and the headers only: no tensor bytes, no tokenizer.json, under 2 s on a 22-layer model', async () => {
    const r = await counted(['info', '--model', deep, '--variant', 'qlora', '--target', 'q_proj,k_proj,v_proj,o_proj', '--r', '16', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.bytesRead).toBe(0);
    expect(r.ms).toBeLessThan(2000);
    const info = JSON.parse(r.stdout);
    expect(info.shards).toBeGreaterThan(1);
    expect(info.checkpointDtype).toBe('bf16');
    // parameters from the shapes: embeddings + lm_head + per layer (attention, MLP, 2 norms) + final norm
    const [h, f, kv, v, L] = [64, 176, 16, 512, 22];
    const perLayer = h * h + 2 * kv * h + h * h + 3 * h * f + 2 * h;
    const base = 2 * v * h + L * perLayer + h;
    const adapters = L * 16 * (2 * (h + h) + 2 * (h + kv));
    expect(info.trainableParameters).toBe(adapters);
    expect(info.totalParameters).toBe(base + adapters);
    expect(info.adaptedModules).toHaveLength(4 * L);
    // bits per quantized parameter from the packed shapes (every Linear but lm_head)
    const shapes = [h * h, kv * h, kv * h, h * h, h * f, h * f, f * h];
    const bytes = L * shapes.reduce((s, n) => s + nf4Bytes(n), 0);
    const params = L * shapes.reduce((s, n) => s + n, 0);
    expect(info.bitsPerParameter).toBeCloseTo((8 * bytes) / params, 10);
    expect(info.memory).toEqual([]);
  });

  it('info --plan-memory plans training memory per policy without reading weights', async () => {
    const r = await counted(['info', '--model', noTokenizer, '--variant', 'dora', '--plan-memory', '--batch-size', '2', '--seq-len', '16', '--json']);
    expect(r.code).toBe(0);
    expect(r.bytesRead).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.memory.map((m: { policy: string }) => m.policy)).toEqual(['none', 'sqrt', 'every:1', 'save-matmuls']);
    const [none, sqrt] = info.memory as { peakBytes: number; activationBytes: number }[];
    expect(sqrt.activationBytes).toBeLessThan(none.activationBytes);
  });

  const out = () => join(dir, 'out');
  const failures: [string, () => string[], RegExp][] = [
    ['train with a data file that does not exist', () => ['train', '--model', model, '--data', join(dir, 'missing.jsonl'), '--out', out(), '--variant', 'qlora'], /missing\.jsonl/],
    ['train with rows of no known format', () => ['train', '--model', model, '--data', writeBad(dir), '--out', out(), '--variant', 'dora'], /bad\.jsonl/],
    ['train without tokenizer.json', () => ['train', '--model', noTokenizer, '--data', data, '--out', out(), '--variant', 'qlora'], /tokenizer\.json/],
    ['train with --seq-len over the model positions', () => ['train', '--model', model, '--data', data, '--out', out(), '--variant', 'qlora', '--seq-len', '65'], /--seq-len/],
    ['train qlora with a --target that matches no layer', () => ['train', '--model', model, '--data', data, '--out', out(), '--variant', 'qlora', '--target', 'no_such_proj'], /matched no linear layer/],
    ['train adalora with too few steps', () => ['train', '--model', model, '--data', data, '--out', out(), '--variant', 'adalora', '--steps', '3', '--base-dtype', 'nf4'], /--steps >= 10/],
    ['eval with a data file that does not exist', () => ['eval', '--model', model, '--data', join(dir, 'missing.jsonl'), '--base-dtype', 'nf4'], /missing\.jsonl/],
    ['eval without tokenizer.json', () => ['eval', '--model', noTokenizer, '--data', data], /tokenizer\.json/],
    ['generate with both --prompt and --prompts-file', () => ['generate', '--model', model, '--prompt', 'w1', '--prompts-file', data, '--base-dtype', 'nf4'], /--prompt/],
  ];
  it.each(failures)('%s fails before reading any tensor byte', async (_name, args, message) => {
    const r = await counted(args());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.bytesRead).toBe(0);
  });
});

function writeBad(dir: string): string {
  const file = join(dir, 'bad.jsonl');
  writeFileSync(file, '{"question": "no known fields"}\n{"question": "still none"}\n');
  return file;
}
