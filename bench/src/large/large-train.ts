/**
 * One training run of a large checkpoint, as a user's process would do it:
 * open the model directory at storage precision (headers only), quantize the
 * base to NF4 while streaming (QLoRA) or keep it bf16/f32, insert LoRA r=16 on
 * q,k,v,o, and train AdamW steps on backend-cpu. Reports what the whole
 * process used: time to the first step from process start, step times, the
 * peak RSS (VmHWM) and the planner's view. Runs in its own child process
 * (see billion.ts), so its peak RSS is its own.
 */
import { readFileSync } from 'node:fs';
import { createCpuBackend } from '@lowrank/backend-cpu';
import { Trainer, type HostTensor, type ParameterValue, type TrainBatch } from '@lowrank/core';
import { openModel, SpillFile, traceLanguageModel, type StorageDtype } from '@lowrank/models';
import { applyAdapters, initialAdapterState, quantizeModelStreaming, setAdapterTraining } from '@lowrank/variants';
import { BenchError } from '../errors.js';

export interface LargeRunConfig {
  readonly model: string;
  readonly variant: 'qlora' | 'lora';
  readonly baseDtype: StorageDtype;
  readonly checkpointing: 'none' | 'sqrt';
  readonly steps: number;
  readonly batch: number;
  readonly seq: number;
  /** ORT's memory arena on backend-cpu (default true). */
  readonly memoryArena?: boolean;
}

export interface LargeRunResult extends LargeRunConfig {
  readonly parameters: number;
  readonly baseBytes: number;
  readonly firstStepSeconds: number;
  readonly stepSeconds: number[];
  readonly tokensPerSecond: number;
  readonly losses: number[];
  readonly plannedPeakMB: number;
  readonly plannedActivationsMB: number;
  readonly rssBeforeStepsMB: number;
  readonly peakRssMB: number;
  readonly loadavg: number;
}

const MB = 1e6;

function procStatus(field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new BenchError(`/proc/self/status has no ${field} (this bench needs Linux)`);
  return Number(m[1]) * 1024;
}

/** Debug aid (LOWRANK_SMAPS=1): the largest resident mappings, to attribute RSS. */
function smapsSummary(): string {
  const rows: { name: string; size: number; rss: number }[] = [];
  let cur: { name: string; size: number; rss: number } | undefined;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+\s+\S+\s+\S+\s+\S+\s+\d+\s*(.*)$/.exec(line);
    if (head) rows.push((cur = { name: head[1] || '[anon]', size: 0, rss: 0 }));
    else if (cur && line.startsWith('Size:')) cur.size = Number(line.split(/\s+/)[1]) * 1024;
    else if (cur && line.startsWith('Rss:')) cur.rss = Number(line.split(/\s+/)[1]) * 1024;
  }
  rows.sort((a, b) => b.rss - a.rss);
  return rows.slice(0, 25).map((r) => `  ${(r.rss / MB).toFixed(1).padStart(8)} MB of ${(r.size / MB).toFixed(1).padStart(8)} MB ${r.name}\n`).join('');
}

/** Deterministic token batches over the vocabulary (the bench measures memory and speed, not learning). */
function batchOf(step: number, batch: number, seq: number, vocab: number): TrainBatch {
  const ids = Int32Array.from({ length: batch * seq }, (_, i) => (Math.imul(i + 7919 * step, 2654435761) >>> 8) % vocab);
  return { feeds: { input_ids: { shape: [batch, seq], dtype: 'i32', data: ids }, labels: { shape: [batch, seq], dtype: 'i32', data: ids } }, tokens: batch * (seq - 1), inputTokens: batch * seq };
}

/** Debug aid (LOWRANK_RSS_TRACE=1): prints each new RSS high-water mark (every 50 MB) with the phase it happened in. */
let phase = 'open';
let processStart = 0;
function enter(name: string): void {
  phase = name;
  process.stderr.write(`[large] ${((performance.now() - processStart) / 1000).toFixed(1)} s: ${name}\n`);
}
function traceRss(): () => void {
  if (!process.env.LOWRANK_RSS_TRACE) return () => {};
  let high = 0;
  const t0 = performance.now();
  const timer = setInterval(() => {
    const rss = procStatus('VmRSS');
    if (rss > high + 50 * MB) {
      high = rss;
      process.stderr.write(`[rss] ${((performance.now() - t0) / 1000).toFixed(1)} s ${phase}: ${(rss / MB).toFixed(0)} MB (anonymous ${(procStatus('RssAnon') / MB).toFixed(0)})\n`);
    }
  }, 20);
  return () => clearInterval(timer);
}

export async function runLarge(c: LargeRunConfig, startedAt: number): Promise<LargeRunResult> {
  processStart = startedAt;
  const stopTrace = traceRss();
  const opened = await openModel(c.model, { baseDtype: c.baseDtype });
  const { model, config } = opened;
  let weights: Map<string, ParameterValue> = opened.weights;
  let spill: SpillFile | undefined;
  let baseBytes = opened.fileBytes * (c.baseDtype === 'f32' && opened.checkpointDtype !== 'f32' ? 2 : 1);
  if (c.variant === 'qlora') {
    // Each packed weight goes to a scratch file the backend reads: the process never holds the base twice.
    enter('quantize');
    spill = await SpillFile.create();
    const q = await quantizeModelStreaming(model, weights, { doubleQuant: true, sink: (_name, t) => spill!.append(t) });
    weights = q.weights;
    await spill.sync();
    baseBytes = q.report.bytes + [...weights.values()].filter((v) => v.dtype !== 'u8').reduce((s, v) => s + v.shape.reduce((p, d) => p * d, 1) * (v.dtype === 'f32' ? 4 : 2), 0);
  }
  enter('adapters');
  applyAdapters(model, { r: 16, lora_alpha: 32, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], lora_dropout: 0 });
  const adapters = initialAdapterState(model, new Map<string, HostTensor>(), { seed: 1 });
  const parameters = [...model.namedParams().values()].reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
  let step = 0;
  const backend = createCpuBackend({ threads: 2, memoryArena: c.memoryArena ?? true });
  enter('trainer');
  const trainer = await Trainer.create({
    backend,
    build: ({ training }) => {
      setAdapterTraining(model, training);
      const t = traceLanguageModel(model, { batch: c.batch, seqLen: c.seq, withLoss: true });
      return { graph: t.graph, loss: t.loss! };
    },
    parameters: Object.fromEntries([...weights, ...adapters]),
    optimizer: { kind: 'adamw', lr: 1e-4 },
    steps: c.steps,
    seed: 0,
    checkpointing: c.checkpointing,
    maxGradNorm: 1,
    data: { next: () => batchOf(step++, c.batch, c.seq, config.vocab_size), position: () => step, seek: (p) => (step = Number(p)) },
  });
  const rssBeforeSteps = procStatus('VmRSS');
  enter('step 1 (compiles the step graph)');
  const losses: number[] = [];
  const stepSeconds: number[] = [];
  let firstStepSeconds = 0;
  trainer.subscribe((m) => {
    if (m.type !== 'step') return;
    losses.push(m.loss);
    phase = `step ${losses.length + 1}`;
    stepSeconds.push(m.stepMs / 1000);
    if (losses.length === 1) firstStepSeconds = (performance.now() - startedAt) / 1000;
    if (process.env.LOWRANK_SMAPS) process.stderr.write(smapsSummary());
    process.stderr.write(`[large] step ${m.step}/${c.steps} loss ${m.loss.toFixed(4)} ${(m.stepMs / 1000).toFixed(1)} s, RSS ${(procStatus('VmRSS') / MB).toFixed(0)} MB (anonymous ${(procStatus('RssAnon') / MB).toFixed(0)}, file ${(procStatus('RssFile') / MB).toFixed(0)}), peak ${(procStatus('VmHWM') / MB).toFixed(0)} MB\n`);
  });
  await trainer.run();
  const plan = trainer.memoryPlan;
  const timed = stepSeconds.length > 1 ? stepSeconds.slice(1) : stepSeconds;
  const median = [...timed].sort((a, b) => a - b)[Math.floor(timed.length / 2)];
  stopTrace();
  trainer.dispose();
  await backend.dispose();
  await spill?.dispose();
  return {
    ...c,
    parameters,
    baseBytes,
    firstStepSeconds,
    stepSeconds,
    tokensPerSecond: (c.batch * c.seq) / median,
    losses,
    plannedPeakMB: plan.plannedPeakBytes / MB,
    plannedActivationsMB: plan.atPeak.activations / MB,
    rssBeforeStepsMB: rssBeforeSteps / MB,
    peakRssMB: procStatus('VmHWM') / MB,
    loadavg: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
  };
}

// Child entry: `tsx large-train.ts '<json config>'` prints one JSON line with the result.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const startedAt = performance.now() - process.uptime() * 1000;
  const result = await runLarge(JSON.parse(process.argv[2]) as LargeRunConfig, startedAt);
  process.stdout.write(JSON.stringify(result) + '\n');
}
