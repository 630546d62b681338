import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { processTensorReads } from '@lowrank/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTinyLlama, writeWordData } from './fixture-support.js';
import { jsonEvents, runCli, tempDir } from './test-support.js';

/** Three training steps on the bf16 fixture; the per-step losses and the JSON events. */
async function train(model: string, data: string, out: string, extra: string[]): Promise<{ losses: number[]; events: Record<string, unknown>[] }> {
  const r = await runCli(['train', '--model', model, '--data', data, '--out', out, '--steps', '3', '--batch-size', '2', '--seq-len', '16', '--train-on', 'all', '--lr', '0.01', '--seed', '4', '--json', ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const events = jsonEvents(r.stdout);
  const losses = events.filter((e) => e.event === 'step').map((e) => e.loss as number);
  expect(losses).toHaveLength(3);
  for (const l of losses) expect(Number.isFinite(l)).toBe(true);
  return { losses, events };
}

describe('--base-dtype on a bf16 checkpoint', () => {
  const dir = tempDir('base-dtype');
  let model = '';
  let data = '';
  beforeAll(async () => {
    model = await writeTinyLlama(dir, 'bf16-model');
    data = writeWordData(dir);
  });

  it('reference backend (float64): a 3-step run has the same losses (1e-6) with the base held as f32 or as bf16 upcast in the graph', async () => {
    const bf16 = await train(model, data, join(dir, 'ref-bf16'), ['--backend', 'reference', '--base-dtype', 'bf16']);
    const f32 = await train(model, data, join(dir, 'ref-f32'), ['--backend', 'reference', '--base-dtype', 'f32']);
    for (let i = 0; i < 3; i++) expect(Math.abs(bf16.losses[i] - f32.losses[i])).toBeLessThanOrEqual(1e-6);
    // the losses move: the adapters train (a run that ignores the data would pass the comparison too)
    expect(bf16.losses[0]).not.toBe(bf16.losses[2]);
    // loss near ln(vocab 64) for random weights with std 0.02
    expect(Math.abs(bf16.losses[0] - Math.log(64))).toBeLessThan(0.1);
  });

  it('backend-cpu: same losses (1e-6) for an f32 and a bf16 base, and within 1e-4 of the float64 reference; the checkpoint dtype is the default', async () => {
    const bf16 = await train(model, data, join(dir, 'cpu-bf16'), ['--backend', 'cpu', '--base-dtype', 'bf16']);
    const f32 = await train(model, data, join(dir, 'cpu-f32'), ['--backend', 'cpu', '--base-dtype', 'f32']);
    const byDefault = await train(model, data, join(dir, 'cpu-default'), ['--backend', 'cpu']);
    const ref = await train(model, data, join(dir, 'cpu-ref'), ['--backend', 'reference']);
    for (let i = 0; i < 3; i++) {
      expect(Math.abs(bf16.losses[i] - f32.losses[i])).toBeLessThanOrEqual(1e-6);
      expect(byDefault.losses[i]).toBe(bf16.losses[i]);
      expect(Math.abs(bf16.losses[i] - ref.losses[i])).toBeLessThan(1e-4);
    }
    const opened = byDefault.events.find((e) => e.event === 'load' && e.phase === 'open')!;
    expect(opened).toMatchObject({ shards: 1, baseDtype: 'bf16' });
    expect(f32.events.some((e) => e.event === 'note' && /upcast to f32/.test(String(e.message)))).toBe(true);
    expect(bf16.events.some((e) => e.event === 'load' && e.phase === 'first-step')).toBe(true);
  });

  it('--variant qlora trains on the bf16 file, quantizing its 14 linear layers to NF4 while loading; --base-dtype nf4 with lora is the same run', async () => {
    const qlora = await train(model, data, join(dir, 'qlora'), ['--backend', 'cpu', '--variant', 'qlora']);
    const quantized = qlora.events.filter((e) => e.event === 'load' && e.phase === 'quantize');
    expect(quantized.at(-1)).toMatchObject({ index: 14, total: 14 });
    expect(existsSync(join(dir, 'qlora', 'adapter_model.safetensors'))).toBe(true);
    const float = await train(model, data, join(dir, 'qlora-float'), ['--backend', 'cpu', '--base-dtype', 'bf16']);
    // 4-bit quantization error moves the loss a little, not a lot
    const rel = Math.abs(qlora.losses[0] - float.losses[0]) / float.losses[0];
    expect(rel).toBeGreaterThan(0);
    expect(rel).toBeLessThan(0.01);
    const nf4 = await train(model, data, join(dir, 'nf4'), ['--backend', 'cpu', '--base-dtype', 'nf4']);
    for (let i = 0; i < 3; i++) expect(Math.abs(nf4.losses[i] - qlora.losses[i])).toBeLessThanOrEqual(1e-6);
    const fp4 = await train(model, data, join(dir, 'fp4'), ['--backend', 'cpu', '--base-dtype', 'fp4']);
    expect(fp4.losses[0]).not.toBe(nf4.losses[0]);
  });

  it('DoRA on the lazily opened base reads each adapted weight once for its magnitude and matches DoRA on the f32 base', async () => {
    const bf16 = await train(model, data, join(dir, 'dora-bf16'), ['--backend', 'reference', '--variant', 'dora', '--base-dtype', 'bf16']);
    const f32 = await train(model, data, join(dir, 'dora-f32'), ['--backend', 'reference', '--variant', 'dora', '--base-dtype', 'f32']);
    for (let i = 0; i < 3; i++) expect(Math.abs(bf16.losses[i] - f32.losses[i])).toBeLessThanOrEqual(1e-6);
    // up to the first step: every base tensor once for the backend, plus the 4 adapted weights (q, v of 2 layers) once for the magnitudes
    const lora = await train(model, data, join(dir, 'lora-bf16'), ['--backend', 'reference', '--base-dtype', 'bf16']);
    const tensorsRead = (events: Record<string, unknown>[]) => events.filter((e) => e.event === 'load' && e.phase === 'read').at(-1)!.tensors as number;
    expect(tensorsRead(lora.events)).toBe(21);
    expect(tensorsRead(bf16.events)).toBe(21 + 4);
  });

  it('eval and generate take --base-dtype: f32 and bf16 agree (1e-6, same tokens), nf4 moves the loss by its quantization error', async () => {
    const evalAt = async (dtype: string) => {
      const r = await runCli(['eval', '--model', model, '--data', data, '--seq-len', '16', '--batch-size', '4', '--train-on', 'all', '--base-dtype', dtype, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as { loss: number; tokens: number };
    };
    const [f32, bf16, nf4] = [await evalAt('f32'), await evalAt('bf16'), await evalAt('nf4')];
    expect(Math.abs(f32.loss - bf16.loss)).toBeLessThanOrEqual(1e-6);
    expect(nf4.tokens).toBe(bf16.tokens);
    const rel = Math.abs(nf4.loss - bf16.loss) / bf16.loss;
    expect(rel).toBeGreaterThan(0);
    expect(rel).toBeLessThan(0.01);
    const generateAt = async (dtype: string) => {
      const r = await runCli(['generate', '--model', model, '--prompt', 'w1 w4 w7', '--max-new-tokens', '6', '--base-dtype', dtype, '--json']);
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout) as { tokens: number[] }).tokens;
    };
    const tokens = await generateAt('bf16');
    expect(tokens.length).toBeGreaterThan(0);
    expect(await generateAt('f32')).toEqual(tokens);
  });

  it('a bad --base-dtype is a usage error listing the allowed values, before any tensor byte is read', async () => {
    const before = processTensorReads.bytes;
    const r = await runCli(['train', '--model', model, '--data', data, '--out', join(dir, 'bad'), '--base-dtype', 'int8']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--base-dtype');
    for (const d of ['f32', 'bf16', 'f16', 'nf4', 'fp4']) expect(r.stderr).toContain(d);
    const q = await runCli(['train', '--model', model, '--data', data, '--out', join(dir, 'bad'), '--variant', 'qlora', '--base-dtype', 'bf16']);
    expect(q.code).toBe(2);
    expect(q.stderr).toMatch(/nf4\|fp4 with --variant qlora/);
    expect(processTensorReads.bytes).toBe(before);
  });
});
