/**
 * Issue 15's benchmark: a TinyLlama-1.1B-shaped checkpoint (random bf16
 * weights written by the repo's fixture generator, 2.2 GB) fine-tuned on this
 * machine. Each configuration runs in its own child process so its peak RSS
 * (VmHWM) is the whole process's; PyTorch runs the same shapes for the
 * tokens/s comparison. Appends a table to bench/RESULTS.md.
 *
 *   pnpm --filter @lowrank/bench bench:billion [--model=DIR] [--steps=3] [--batch=2] [--seq=256]
 *     [--runs=qlora:bf16:sqrt,lora:bf16:sqrt,lora:bf16:sqrt:no-arena,...] [--torch=true] [--no-record]
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TINYLLAMA_1B_SHAPE, writeLlamaFixture, type StorageDtype } from '@lowrank/models';
import { BenchError } from '../errors.js';
import { TORCH_ENV } from '../harness/participants.js';
import type { LargeRunConfig, LargeRunResult } from './large-train.js';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')) as [string, string][]);
const model = args.model ?? '/tmp/lowrank-bench/tinyllama-1.1b-bf16';
const steps = Number(args.steps ?? 3);
const batch = Number(args.batch ?? 2);
const seq = Number(args.seq ?? 256);
const runs = (args.runs ?? 'qlora:bf16:sqrt,lora:bf16:sqrt,lora:bf16:none,lora:f32:sqrt').split(',').map((r) => {
  const [variant, baseDtype, checkpointing, arena] = r.split(':');
  return { variant, baseDtype, checkpointing, ...(arena === 'no-arena' ? { memoryArena: false } : {}) } as Pick<LargeRunConfig, 'variant' | 'baseDtype' | 'checkpointing' | 'memoryArena'>;
});
const here = fileURLToPath(new URL('.', import.meta.url));

async function ensureFixture(): Promise<void> {
  if (existsSync(join(model, 'config.json'))) return;
  process.stderr.write(`[billion] writing the 1.1B fixture to ${model} (bf16, ~2.2 GB, about a minute)\n`);
  await writeLlamaFixture(model, { ...TINYLLAMA_1B_SHAPE, seed: 11 });
}

function child(c: LargeRunConfig): LargeRunResult {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, 'large-train.ts'), JSON.stringify(c)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new BenchError(`large run ${JSON.stringify(c)} failed (exit ${r.status ?? r.signal})`);
  return JSON.parse(line) as LargeRunResult;
}

interface TorchResult {
  torch: string;
  tokensPerSecond: number;
  stepSeconds: number[];
  losses: number[];
  peakRssMB: number;
  firstStepSeconds: number;
}

function torchPeer(): TorchResult | string {
  const r = spawnSync('/usr/bin/python3', [join(here, '../../peers/torch_large.py'), model, '--steps', String(steps), '--batch', String(batch), '--seq', String(seq)], {
    encoding: 'utf8',
    env: { ...process.env, ...TORCH_ENV },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) return `PyTorch peer failed (exit ${r.status ?? r.signal}); run bench/setup.sh`;
  return JSON.parse(line) as TorchResult;
}

const fmt = (v: number, d = 0) => v.toFixed(d);

await ensureFixture();
const results: LargeRunResult[] = [];
for (const r of runs) {
  const c: LargeRunConfig = { model, variant: r.variant, baseDtype: r.baseDtype as StorageDtype, checkpointing: r.checkpointing, steps, batch, seq, ...(r.memoryArena === false ? { memoryArena: false } : {}) };
  process.stderr.write(`[billion] ${r.variant} base ${r.baseDtype} checkpointing ${r.checkpointing}${r.memoryArena === false ? ' (ORT arena off)' : ''}\n`);
  results.push(child(c));
}
const torch = args.torch === 'false' ? 'not run (--torch=false)' : torchPeer();

const rows = results.map((r) => {
  const vsTorch = typeof torch === 'string' ? 'n/a' : `${(r.tokensPerSecond / torch.tokensPerSecond).toFixed(2)}×`;
  return `| ${r.variant} | ${r.baseDtype} | ${r.checkpointing}${r.memoryArena === false ? ', arena off' : ''} | ${fmt(r.baseBytes / 1e6)} | ${fmt(r.firstStepSeconds, 1)} | ${r.stepSeconds.map((s) => s.toFixed(1)).join(' / ')} | ${fmt(r.tokensPerSecond, 1)} | ${vsTorch} | ${fmt(r.plannedActivationsMB)} | ${fmt(r.rssBeforeStepsMB)} | **${fmt(r.peakRssMB)}** | ${r.losses.map((l) => l.toFixed(4)).join(' ')} | ${r.loadavg.toFixed(1)} |`;
});
const torchLine =
  typeof torch === 'string'
    ? `PyTorch: ${torch}.`
    : `PyTorch ${torch.torch} (OpenBLAS, 2 threads, bf16 weights upcast per matmul, same LoRA and AdamW): ${fmt(torch.tokensPerSecond, 1)} tokens/s (steps ${torch.stepSeconds.map((s) => s.toFixed(1)).join(' / ')} s), peak RSS ${fmt(torch.peakRssMB)} MB, first step after ${fmt(torch.firstStepSeconds, 1)} s, losses ${torch.losses.map((l) => l.toFixed(4)).join(' ')}.`;
const table = [
  '',
  `## Billion-parameter fine-tuning (issue 15), ${new Date().toISOString().slice(0, 10)}`,
  '',
  `Command: \`pnpm --filter @lowrank/bench bench:billion ${process.argv.slice(2).join(' ')}\`. Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${fmt(totalmem() / 2 ** 30)} GiB, load average at the end ${loadavg()[0].toFixed(1)}.`,
  `Model: ${model} (TinyLlama-1.1B shape: 22 layers, width 2048, ffn 5632, 32 heads, 4 KV heads, vocab 32000; bf16, random weights). LoRA r=16 on q,k,v,o, AdamW, batch ${batch} × ${seq}, ${steps} steps, backend-cpu (2 threads). Peak RSS is VmHWM of the whole child process.`,
  '',
  '| variant | base held as | checkpointing | base MB | first step after (s) | step s | tokens/s | vs PyTorch | planned activations MB | RSS before steps MB | peak RSS MB | losses | load |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
  torchLine,
  '',
].join('\n');
process.stdout.write(table + '\n');
if (args['no-record'] === undefined) appendFileSync(join(here, '../../RESULTS.md'), table);
