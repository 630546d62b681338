/**
 * Peak memory of LoRA training against the vocabulary size, with the chunked
 * LM head + cross-entropy (traceLanguageModel's default lossChunk) and without
 * it. Each configuration trains a few AdamW steps of a narrow LLaMA on
 * backend-cpu in its own child process, which reports:
 * - the planner's peak for the training graph (parameters + activations ...);
 * - RSS once the ORT session exists and holds its weights (the baseline: JS
 *   weights + ORT's session);
 * - the peak RSS of the first step and of the later steps alone (VmHWM reset
 *   through /proc/self/clear_refs after step 1), anonymous and file-backed RSS
 *   sampled while they run, and the whole-process peak.
 *
 *   pnpm --filter @lowrank/bench bench:vocab [--vocabs=32000,151936] [--width=256] [--layers=4]
 *     [--batch=2] [--seq=256] [--steps=3] [--tied=true] [--modes=chunked,unchunked]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildTrainGraph, optimizerScalars, planMemory, type HostTensor } from '@lowrank/core';
import { createCpuBackend } from '@lowrank/backend-cpu';
import { createModel, presetConfig, traceLanguageModel } from '@lowrank/models';
import { applyAdapters, initialAdapterState, setAdapterTraining } from '@lowrank/variants';
import { BenchError } from '../errors.js';

interface RunConfig {
  vocab: number;
  width: number;
  layers: number;
  batch: number;
  seq: number;
  steps: number;
  tied: boolean;
  chunked: boolean;
}

interface RunResult extends RunConfig {
  lossChunk: number | null;
  losses: number[];
  plannedPeakMB: number;
  baselineRssMB: number;
  /** Peak RSS of the steps after the first (VmHWM reset after step 1). */
  stepPeakRssMB: number;
  firstStepPeakRssMB: number;
  afterFirstStepRssMB: number;
  /** Anonymous and file-backed RSS at the baseline and their sampled peaks during the steps. */
  baselineAnonMB: number;
  stepAnonPeakMB: number;
  baselineFileMB: number;
  stepFilePeakMB: number;
  processPeakRssMB: number;
  stepSeconds: number;
}

const MB = 1e6;

/** A field of /proc/self/status in bytes (RssAnon: heap and arenas; RssFile: mapped files, such as external weights). */
function procStatus(field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new BenchError(`/proc/self/status has no ${field} (this bench needs Linux)`);
  return Number(m[1]) * 1024;
}

async function child(c: RunConfig): Promise<RunResult> {
  const config = presetConfig('llama-tiny', {
    vocab_size: c.vocab,
    hidden_size: c.width,
    intermediate_size: Math.round((c.width * 8) / 3 / 64) * 64,
    num_hidden_layers: c.layers,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    max_position_embeddings: Math.max(512, c.seq),
    tie_word_embeddings: c.tied,
  });
  const { model, weights } = createModel(config, 1);
  applyAdapters(model, { r: 16, lora_alpha: 32, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], lora_dropout: 0 });
  setAdapterTraining(model, true);
  const adapters = initialAdapterState(model, weights, { seed: 2 });
  const traced = traceLanguageModel(model, { batch: c.batch, seqLen: c.seq, withLoss: true, lossChunk: c.chunked ? undefined : false });
  if (!traced.loss) throw new BenchError('traceLanguageModel returned no loss');
  const optimizer = { kind: 'adamw' as const, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };
  const tg = buildTrainGraph(traced.graph, traced.loss, { optimizer });
  const backend = createCpuBackend({ threads: 2 });
  const roots = [...new Set([...(tg.signature.outputs ?? []), ...Object.values(tg.signature.updates ?? {})])];
  const planned = planMemory(tg.graph, roots, { fusedOps: backend.capabilities.fusedOps });
  const exe = await backend.compile(tg.graph, { ...tg.signature, outputs: ['loss'] });
  const params: Record<string, HostTensor> = {};
  for (const [name, p] of tg.graph.params) {
    const v = weights.get(name) ?? adapters.get(name);
    params[name] = v ?? { shape: p.shape, dtype: 'f32', data: new Float32Array(p.shape.reduce((a, b) => a * b, 1)) };
  }
  await exe.setParameters(params);
  // backend-cpu creates its ORT session lazily; create it now so the steps measure running alone.
  await (exe as { prepare?: () => Promise<void> }).prepare?.();
  const processPeakBeforeSteps = procStatus('VmHWM');
  const baseline = procStatus('VmRSS');
  const baselineAnon = procStatus('RssAnon');
  const baselineFile = procStatus('RssFile');
  // Writing 5 resets VmHWM to the current RSS: what follows measures the steps alone.
  writeFileSync('/proc/self/clear_refs', '5');
  // ORT runs off the JS thread, so a timer sees RSS while a step runs; anonymous memory (activations,
  // arena) and file-backed pages (weights ORT maps from external data, first touched by a step) apart.
  let anonPeak = baselineAnon;
  let filePeak = baselineFile;
  const sampler = setInterval(() => {
    anonPeak = Math.max(anonPeak, procStatus('RssAnon'));
    filePeak = Math.max(filePeak, procStatus('RssFile'));
  }, 2);
  const ids = Int32Array.from({ length: c.batch * c.seq }, (_, i) => (i * 7919 + 13) % c.vocab);
  const losses: number[] = [];
  let firstStepPeak = 0;
  let steadyBaseline = 0;
  const t0 = performance.now();
  for (let step = 0; step < c.steps; step++) {
    if (step === 1) {
      // The first step also holds one-off memory (backend-cpu hands the frozen weights to ORT on it);
      // the later steps show what training holds step after step.
      firstStepPeak = procStatus('VmHWM');
      steadyBaseline = procStatus('VmRSS');
      anonPeak = procStatus('RssAnon');
      filePeak = procStatus('RssFile');
      writeFileSync('/proc/self/clear_refs', '5');
    }
    const scalars = Object.fromEntries(
      Object.entries(optimizerScalars(optimizer, step, optimizer.lr)).map(([k, v]) => [k, { shape: [], dtype: 'f32' as const, data: Float32Array.of(v) }]),
    );
    const out = await exe.run({ input_ids: { shape: [c.batch, c.seq], dtype: 'i32', data: ids }, labels: { shape: [c.batch, c.seq], dtype: 'i32', data: ids }, ...scalars });
    losses.push(out.loss.data[0]);
  }
  const stepSeconds = (performance.now() - t0) / 1000 / c.steps;
  clearInterval(sampler);
  const stepPeak = procStatus('VmHWM');
  exe.dispose();
  backend.dispose();
  return {
    ...c,
    lossChunk: traced.lossChunk ?? null,
    losses,
    plannedPeakMB: planned.plannedPeakBytes / MB,
    baselineRssMB: baseline / MB,
    stepPeakRssMB: stepPeak / MB,
    firstStepPeakRssMB: firstStepPeak / MB,
    afterFirstStepRssMB: steadyBaseline / MB,
    baselineAnonMB: baselineAnon / MB,
    stepAnonPeakMB: anonPeak / MB,
    baselineFileMB: baselineFile / MB,
    stepFilePeakMB: filePeak / MB,
    processPeakRssMB: Math.max(processPeakBeforeSteps, firstStepPeak, stepPeak) / MB,
    stepSeconds,
  };
}

function arg(name: string, fallback: string): string {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

function parent(): void {
  const vocabs = arg('vocabs', '32000,151936').split(',').map(Number);
  const modes = arg('modes', 'chunked,unchunked').split(',');
  const base = {
    width: Number(arg('width', '256')),
    layers: Number(arg('layers', '4')),
    batch: Number(arg('batch', '2')),
    seq: Number(arg('seq', '256')),
    steps: Number(arg('steps', '3')),
    tied: arg('tied', 'true') === 'true',
  };
  const self = fileURLToPath(import.meta.url);
  const rows: RunResult[] = [];
  console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const mode of modes) {
    for (const vocab of vocabs) {
      const c: RunConfig = { ...base, vocab, chunked: mode === 'chunked' };
      const r = spawnSync(process.execPath, [...process.execArgv, self, '--child', JSON.stringify(c)], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (r.status !== 0 || !line) throw new BenchError(`child for ${JSON.stringify(c)} failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
      const res = JSON.parse(line.slice('RESULT '.length)) as RunResult;
      rows.push(res);
      console.log(
        `${mode.padEnd(9)} vocab ${String(vocab).padStart(6)}  chunk ${String(res.lossChunk ?? '-').padStart(5)}  planned ${res.plannedPeakMB.toFixed(0).padStart(5)} MB  ` +
          `session ready ${res.baselineRssMB.toFixed(0).padStart(5)} MB  first step peak ${res.firstStepPeakRssMB.toFixed(0).padStart(5)} MB  ` +
          `later steps peak ${res.stepPeakRssMB.toFixed(0).padStart(5)} MB (from ${res.afterFirstStepRssMB.toFixed(0)}; anon peak ${res.stepAnonPeakMB.toFixed(0)}, file peak ${res.stepFilePeakMB.toFixed(0)})  ` +
          `process peak ${res.processPeakRssMB.toFixed(0).padStart(5)} MB  ` +
          `${res.stepSeconds.toFixed(2)} s/step  losses ${res.losses.map((l) => l.toFixed(4)).join(' ')}  load ${loadavg()[0].toFixed(2)}`,
      );
    }
  }
  console.log(`JSON ${JSON.stringify(rows)}`);
}

if (process.argv.includes('--child')) {
  const c = JSON.parse(process.argv[process.argv.indexOf('--child') + 1]) as RunConfig;
  child(c).then(
    (r) => console.log(`RESULT ${JSON.stringify(r)}`),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
} else parent();
