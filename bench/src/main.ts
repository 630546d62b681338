/**
 * The race: lowrank backend-cpu against PyTorch and TensorFlow.js on the same
 * LoRA training step, same weights, same batch, same machine, same run.
 *
 *   pnpm --filter @lowrank/bench bench          full run, appends to bench/RESULTS.md
 *   pnpm --filter @lowrank/bench bench:quick    under 3 minutes (no tfjs-backend-cpu)
 * Options: --rounds=N  --policies=sqrt,every:2 (quick: sqrt)  --tfjs-cpu / --no-tfjs-cpu  --no-write
 * Set BENCH_VERBOSE=1 to see the participants' stderr.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_MODEL, baseParameterCount, loraParameterCount, tokensPerStep } from './config.js';
import { loraStepFlops } from './flops.js';
import { checkAgreement, FLOAT32_TOLERANCES, type AgreementRow } from './harness/agreement.js';
import { ceilingShapes, LOWRANK_WORKER, planParticipants, PYTHON, TORCH_ENV, TORCH_PEER, type ParticipantSpec } from './harness/participants.js';
import { agreementTable, fx, markdownTable, raceTable } from './harness/report.js';
import { median } from './harness/stats.js';
import { summarize, type ParticipantRun } from './harness/summary.js';
import { buildTargets, policyTable, variantLines } from './harness/targets.js';
import { Worker } from './harness/worker.js';
import { makeBenchBatch, makeBenchWeights } from './weights.js';
import { writeSafetensors } from './safetensors-file.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=').slice(1).join('=');
const quick = flag('quick');
const rounds = Number(option('rounds') ?? (quick ? 3 : 4));
const policies = (option('policies') ?? (quick ? 'sqrt' : 'sqrt,every:2')).split(',').filter((p) => p && p !== 'none');
const tfjsCpu = flag('tfjs-cpu') || (!quick && !flag('no-tfjs-cpu'));
const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<number> {
  const started = new Date();
  const t0 = performance.now();
  const c = BENCH_MODEL;
  const load0 = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'lowrank-bench-'));
  const weights = join(dir, 'weights.safetensors');
  writeSafetensors(weights, [...makeBenchWeights(c, 1), ...makeBenchBatch(c, 1)]);
  log(`bench: wrote shared weights and batch (${(baseParameterCount(c) / 1e6).toFixed(1)}M base params) to ${weights}`);

  const workers: Worker[] = [];
  try {
    // 1. The float64 oracle, in a process of its own so it inflates nobody's RSS.
    const oracle = new Worker('torch float64 reference', PYTHON, [TORCH_PEER], TORCH_ENV);
    const refLora = await oracle.request({ cmd: 'reference', weights, config: c, variant: 'lora' });
    const refDora = await oracle.request({ cmd: 'reference', weights, config: c, variant: 'dora' });
    await oracle.close();
    const reference = refLora as unknown as { loss: number; gradNorm: number };
    const referenceDora = refDora as unknown as { loss: number; gradNorm: number };
    log(`bench: float64 reference loss ${reference.loss}, LoRA grad norm ${reference.gradNorm}`);

    // 2. Start every participant; each runs its first steps (the agreement check and warm-up).
    const specs = planParticipants({ quick, tfjsCpu, policies });
    const runs: ParticipantRun[] = [];
    const live = new Map<ParticipantRun, Worker>();
    for (const spec of specs) {
      const run: ParticipantRun = { spec, samplesMs: [] };
      runs.push(run);
      const w = new Worker(spec.name, spec.command, spec.args, spec.env);
      workers.push(w);
      const ti = performance.now();
      try {
        const r = await w.request({ cmd: 'init', weights, config: c, initSteps: spec.initSteps, ...spec.init });
        (run as { init?: ParticipantRun['init'] }).init = r as unknown as ParticipantRun['init'];
        live.set(run, w);
        log(`bench: ${spec.name} ready in ${((performance.now() - ti) / 1000).toFixed(1)} s, loss ${r.loss}`);
      } catch (e) {
        run.error = (e instanceof Error ? e.message.split('\n')[0] : String(e)).replace(`${spec.name} failed: `, '');
        log(`bench: ${spec.name} could not run: ${run.error}`);
        await w.close();
      }
    }

    // 3. Same loss on the same weights, or no timing at all.
    const torchRun = runs.find((r) => r.spec.implementation === 'pytorch' && r.init);
    const facts = (method: string) =>
      runs.filter((r) => r.init && r.spec.method === method).map((r) => ({ name: r.spec.name, ...r.init! }));
    const agreementLora = checkAgreement(reference, torchRun?.init, facts('lora'));
    const agreementDora = checkAgreement(referenceDora, undefined, facts('dora'));
    const disagreeing = [...agreementLora, ...agreementDora].filter((a) => !a.ok);
    if (disagreeing.length) {
      log(agreementTable([...agreementLora, ...agreementDora], 'float64'));
      log(`bench: ${disagreeing.length} participant(s) disagree with the float64 reference; not timing a race of different computations.`);
      return 1;
    }
    log('bench: all participants agree with the float64 reference; timing');

    // 4. Interleaved rounds: every participant, then both MatMul ceilings, rotating the order.
    const ort = new Worker('ort matmul', process.execPath, LOWRANK_WORKER, { LOWRANK_THREADS: '2' });
    workers.push(ort);
    const shapes = ceilingShapes(tokensPerStep(c), c.hiddenSize, c.intermediateSize, c.vocabSize);
    const ceilingSamples = { ort: shapes.map(() => [] as number[]), openblas: shapes.map(() => [] as number[]) };
    const timed = runs.filter((r) => live.has(r) && r.spec.stepsPerRound > 0);
    for (let round = 0; round < rounds; round++) {
      const order = timed.map((_, i) => timed[(i + round) % timed.length]);
      for (const r of order) {
        const reply = await live.get(r)!.request({ cmd: 'time', steps: r.spec.stepsPerRound });
        r.samplesMs.push(...(reply.times as number[]));
      }
      const ortRates = (await ort.request({ cmd: 'matmul', shapes, reps: 10 })).rates as Array<{ gflops: number }>;
      ortRates.forEach((x, i) => ceilingSamples.ort[i].push(x.gflops));
      if (torchRun) {
        const blas = (await live.get(torchRun)!.request({ cmd: 'matmul', shapes, reps: 10 })).rates as Array<{ gflops: number }>;
        blas.forEach((x, i) => ceilingSamples.openblas[i].push(x.gflops));
      }
      log(`bench: round ${round + 1}/${rounds} done (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    for (const [r, w] of live) r.memory = (await w.request({ cmd: 'memory' })) as unknown as ParticipantRun['memory'];

    // 5. Figures.
    const ortCeiling = Math.max(...ceilingSamples.ort.map(median));
    const blasCeiling = Math.max(...ceilingSamples.openblas.map(median));
    const ceiling = Math.max(ortCeiling, Number.isFinite(blasCeiling) ? blasCeiling : 0) * 1e9;
    const flops = loraStepFlops(c);
    const rows = summarize(runs, tokensPerStep(c), flops.total, ceiling);
    const section = renderSection({
      started,
      elapsedS: (performance.now() - t0) / 1000,
      loads: [load0, loadavg()[0]],
      rows,
      runs,
      agreement: [...agreementLora, ...agreementDora],
      reference,
      referenceDora,
      shapes,
      ceilingSamples,
      ceiling,
      flops: flops.total,
    });
    process.stdout.write(`${section}\n`);
    if (!flag('no-write')) {
      appendFileSync(fileURLToPath(new URL('../RESULTS.md', import.meta.url)), `\n${section}\n`);
      log('bench: appended to bench/RESULTS.md');
    }
    return 0;
  } finally {
    for (const w of workers) await w.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface SectionInput {
  started: Date;
  elapsedS: number;
  loads: number[];
  rows: ReturnType<typeof summarize>;
  runs: ParticipantRun[];
  agreement: AgreementRow[];
  reference: { loss: number; gradNorm: number };
  referenceDora: { loss: number; gradNorm: number };
  shapes: Array<[number, number, number]>;
  ceilingSamples: { ort: number[][]; openblas: number[][] };
  ceiling: number;
  flops: number;
}

function renderSection(s: SectionInput): string {
  const c = BENCH_MODEL;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const command = `pnpm --filter @lowrank/bench ${quick ? 'bench:quick' : 'bench'}${argv.filter((a) => a !== '--quick' && a !== '--').map((a) => ` ${a}`).join('')}`;
  const failed = s.runs.filter((r) => r.error);
  const lines = [
    `## Race: LoRA fine-tuning step, lowrank vs PyTorch vs TensorFlow.js (${quick ? 'quick' : 'full'}, ${s.started.toISOString().slice(0, 16)}Z)`,
    '',
    `Command: \`${command}\` (issue 11 harness, bench/src/main.ts). Machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `1-minute load average ${fx(s.loads[0], 1)} at start, ${fx(s.loads[1], 1)} at end (other work shared the machine). Took ${fx(s.elapsedS, 0)} s.`,
    '',
    `Model: LLaMA-shaped, width ${c.hiddenSize}, ${c.numLayers} layers, ${c.numHeads} heads, SwiGLU ${c.intermediateSize}, vocab ${c.vocabSize}, ` +
      `${(baseParameterCount(c) / 1e6).toFixed(1)}M frozen parameters; LoRA r=${c.loraRank}, alpha=${c.loraAlpha} on ${c.loraTargets.join(', ')} ` +
      `(${(loraParameterCount(c) / 1e6).toFixed(2)}M trainable); batch ${c.batchSize} × seq ${c.seqLen}; AdamW lr ${c.lr}, wd ${c.weightDecay}. ` +
      `One step = forward, backward, AdamW update. Model FLOPs per step ${fx(s.flops / 1e9, 1)} G (bench/src/flops.ts). ` +
      `Timing: ${rounds} interleaved rounds (round-robin, rotating order, one participant computing at a time), median.`,
    '',
    raceTable(s.rows),
    '',
    `MFU = model FLOP/s ÷ the measured fp32 MatMul ceiling, ${fx(s.ceiling / 1e9, 0)} GFLOP/s (the best of ORT and OpenBLAS on the model's MatMul shapes, measured between rounds):`,
    '',
    markdownTable(
      ['MatMul (M×K×N)', 'ORT GFLOP/s (median)', 'OpenBLAS via torch.mm GFLOP/s (median)'],
      s.shapes.map((sh, i) => [sh.join('×'), fx(median(s.ceilingSamples.ort[i]), 0), fx(median(s.ceilingSamples.openblas[i]), 0)]),
    ),
    '',
    `Agreement before timing (same weights and batch; float64 reference from PyTorch in double precision: LoRA loss ${s.reference.loss.toFixed(8)}, DoRA loss ${s.referenceDora.loss.toFixed(8)}; tolerances ${JSON.stringify(FLOAT32_TOLERANCES)}):`,
    '',
    agreementTable(s.agreement, 'float64'),
    '',
    ...variantLines(s.rows, s.runs, s.reference),
    '',
    policyTable(s.rows, s.runs),
    '',
    'Targets of issue 11:',
    '',
    buildTargets(s.rows, s.runs),
  ];
  if (failed.length) lines.push('', 'Did not run:', '', ...failed.map((r) => `- ${r.spec.name}: ${r.error}`));
  const slow = s.runs.filter((r) => r.init && r.spec.stepsPerRound === 0);
  if (slow.length) lines.push('', ...slow.map((r) => `- ${r.spec.name}: timed by its single first step (one step takes ${fx((r.init?.firstStepMs ?? 0) / 1000, 0)} s; more would not fit the run).`));
  if (!tfjsCpu) lines.push('', '- tfjs-backend-cpu is left out of quick mode (about 0.7 GFLOP/s here: minutes per step); the full `bench` runs it.');
  return lines.join('\n');
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);

export type { ParticipantSpec };
