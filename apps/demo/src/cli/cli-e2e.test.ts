import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonEvents, runCli, tempDir, writeRepeatTask } from './test-support.js';

const ALL_LINEAR = 'q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj';
/** The random llama-tiny scores ~5.52 (ln 259 ≈ 5.56) on the task; 100 LoRA steps must bring it below this. */
const HELD_OUT_THRESHOLD = 4.6;

function trainArgs(data: string, out: string, backend: string, extra: string[] = []): string[] {
  return ['train', '--model', 'llama-tiny', '--data', data, '--out', out, '--backend', backend, '--steps', '100', '--batch-size', '8', '--seq-len', '24', '--lr', '0.01', '--target', ALL_LINEAR, '--seed', '3', '--json', ...extra];
}

describe('lowrank CLI end to end on backend-cpu', () => {
  const dir = tempDir('e2e');
  const data = writeRepeatTask(dir);
  const out = join(dir, 'adapter');

  it(`fine-tunes llama-tiny until the held-out loss is below ${HELD_OUT_THRESHOLD}`, async () => {
    const r = await runCli(trainArgs(data, out, 'cpu'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = jsonEvents(r.stdout);
    const done = events.find((e) => e.event === 'done')!;
    console.log(`backend-cpu: held-out loss ${done.initialEvalLoss} -> ${done.finalEvalLoss} in ${done.seconds}s`);
    expect(done.initialEvalLoss as number).toBeGreaterThan(5.3);
    expect(done.finalEvalLoss as number).toBeLessThan(HELD_OUT_THRESHOLD);
    expect(events.filter((e) => e.event === 'step')).toHaveLength(100);
    const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: ALL_LINEAR.split(',') });
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);

    // eval with the saved adapter reproduces the trainer's final held-out loss on the held-out rows' file
    const evalRun = await runCli(['eval', '--model', 'llama-tiny', '--adapter', out, '--data', data, '--batch-size', '8', '--seq-len', '24', '--json']);
    const withAdapter = JSON.parse(evalRun.stdout);
    const without = JSON.parse((await runCli(['eval', '--model', 'llama-tiny', '--data', data, '--batch-size', '8', '--seq-len', '24', '--json'])).stdout);
    expect(Object.keys(withAdapter).sort()).toEqual(['loss', 'perplexity', 'tokens']);
    expect(withAdapter.loss).toBeLessThan(HELD_OUT_THRESHOLD);
    expect(without.loss).toBeGreaterThan(5.3);
    expect(withAdapter.perplexity).toBeCloseTo(Math.exp(withAdapter.loss), 6);

    // merging the adapter into W gives a plain model with the same loss
    const merged = join(dir, 'merged');
    const m = await runCli(['merge', '--model', 'llama-tiny', '--adapter', out, '--out', merged, '--json']);
    expect(JSON.parse(m.stdout).mergedModules).toBe(14);
    const mergedEval = JSON.parse((await runCli(['eval', '--model', merged, '--data', data, '--batch-size', '8', '--seq-len', '24', '--json'])).stdout);
    expect(Math.abs(mergedEval.loss - withAdapter.loss)).toBeLessThan(1e-4);
  });

  it.each(['dora', 'qlora'])('fine-tunes with --variant %s below the same threshold', async (variant) => {
    const vout = join(dir, variant);
    const r = await runCli(trainArgs(data, vout, 'cpu', ['--variant', variant]));
    expect(r.stderr).toBe('');
    const done = jsonEvents(r.stdout).find((e) => e.event === 'done')!;
    console.log(`backend-cpu ${variant}: held-out loss ${done.initialEvalLoss} -> ${done.finalEvalLoss}`);
    expect(done.finalEvalLoss as number).toBeLessThan(HELD_OUT_THRESHOLD);
    const cfg = JSON.parse(readFileSync(join(vout, 'adapter_config.json'), 'utf8'));
    expect(cfg.use_dora).toBe(variant === 'dora');
    if (variant === 'dora') {
      // DoRA merges with its magnitude rescaling: the merged model scores what the adapter scores
      const evalArgs = ['--data', data, '--batch-size', '8', '--seq-len', '24', '--json'];
      const withAdapter = JSON.parse((await runCli(['eval', '--model', 'llama-tiny', '--adapter', vout, ...evalArgs])).stdout);
      await runCli(['merge', '--model', 'llama-tiny', '--adapter', vout, '--out', join(dir, 'dora-merged')]);
      const merged = JSON.parse((await runCli(['eval', '--model', join(dir, 'dora-merged'), ...evalArgs])).stdout);
      expect(Math.abs(merged.loss - withAdapter.loss)).toBeLessThan(1e-4);
    }
  });

  it('generates, reports sizes and exports ONNX with the adapter', async () => {
    const g = JSON.parse((await runCli(['generate', '--model', 'llama-tiny', '--adapter', out, '--prompt', 'abx2=', '--max-new-tokens', '6', '--json'])).stdout);
    expect(g.tokens.length).toBeGreaterThan(0);
    expect(typeof g.text).toBe('string');
    // The trained adapter folded into the f32 base for the run: the same greedy tokens.
    const folded = await runCli(['generate', '--model', 'llama-tiny', '--adapter', out, '--prompt', 'abx2=', '--max-new-tokens', '6', '--fold-adapters', '--json']);
    expect(JSON.parse(folded.stdout).tokens).toEqual(g.tokens);
    expect(folded.stderr).toBe('');
    const noAdapter = await runCli(['generate', '--model', 'llama-tiny', '--prompt', 'abx2=', '--fold-adapters']);
    expect(noAdapter.code).not.toBe(0);
    expect(noAdapter.stderr).toMatch(/--fold-adapters.*only together with --adapter/);
    const info = JSON.parse((await runCli(['info', '--model', 'llama-tiny', '--target', 'q_proj,v_proj', '--r', '4', '--json'])).stdout);
    // q_proj 64->64 and v_proj 64->32 (2 KV heads of 16) per layer, 2 layers: r·(in+out) each
    expect(info.trainableParameters).toBe(2 * (4 * (64 + 64) + 4 * (64 + 32)));
    expect(info.trainableShare).toBeCloseTo(info.trainableParameters / info.totalParameters, 12);
    const onnxFile = join(dir, 'model.onnx');
    const e = await runCli(['export-onnx', '--model', 'llama-tiny', '--adapter', out, '--out', onnxFile, '--seq-len', '8', '--json']);
    expect(e.stderr).toBe('');
    expect(JSON.parse(e.stdout).bytes).toBeGreaterThan(100_000);
  });

  it('takes options from a YAML config file, flags winning, and names a bad config value and its file', async () => {
    const cfg = join(dir, 'run.yaml');
    writeFileSync(cfg, `model: llama-tiny\ndata: ${data}\nout: ${join(dir, 'from-config')}\nsteps: 3\nbatch-size: 2\nseq-len: 16\ntarget: [q_proj, v_proj]\nmax-eval-batches: 1\n`);
    const r = await runCli(['train', '--config', cfg, '--steps', '2', '--json']);
    expect(r.stderr).toBe('');
    const steps = jsonEvents(r.stdout).filter((e) => e.event === 'step');
    expect(steps).toHaveLength(2);
    expect(steps[0].tokensPerSecond as number).toBeGreaterThan(0);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'optimizer: adam\n');
    const b = await runCli(['train', '--config', bad, '--model', 'llama-tiny', '--data', data, '--out', join(dir, 'x')]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`invalid value "adam" for --optimizer (from ${bad}); allowed: adamw, sgd`);
  });

  it('rejects a bad option with its name and allowed values, exit code 2', async () => {
    const r = await runCli(['train', '--model', 'llama-tiny', '--data', data, '--out', out, '--variant', 'lorax']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid value "lorax" for --variant .*allowed: lora, dora, qlora, dylora, lora-drop, adalora/);
    const unknown = await runCli(['train', '--learning-rate', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--learning-rate'/);
  });
});
