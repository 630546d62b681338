/**
 * Model FLOP/s of a LoRA training step on the CPU backend, against the fp32
 * MatMul rate of the same machine measured in the same run.
 *
 *   pnpm --filter @lowrank/backend-cpu bench            (prints a markdown section)
 *   pnpm --filter @lowrank/backend-cpu bench -- --append (also appends it to bench/RESULTS.md)
 *
 * The step: a 4-block, width-512 LLaMA-shaped decoder (RMSNorm, q/k/v/o with
 * LoRA r=16, RoPE, causal attention, SwiGLU MLP, cross-entropy), forward +
 * backward for the adapters + an in-graph SGD update, as one ONNX session.
 */
import { appendFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getOp, Graph, opFlops, ops, schedule, type HostTensor, type NDArray } from '../../packages/core/src/index.ts';
import { createCpuBackend } from '../../packages/backend-cpu/src/index.ts';
import { buildLlamaLora } from '../../packages/backend-cpu/test/llama-lora-graph.ts';

const host = (a: NDArray): HostTensor => ({ shape: a.shape, dtype: a.dtype, data: a.toHost() });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Model FLOPs of everything the outputs need (forward, backward, update), by core's per-op counts. */
function graphFlops(g: Graph, outputs: readonly string[]): number {
  let total = 0;
  for (const id of schedule(g, outputs.map((o) => g.outputs.get(o)!))) {
    const n = g.node(id);
    const inputs = n.inputs.map((i) => g.node(i));
    total += opFlops(getOp(n.op), inputs, n, n.attrs);
  }
  return total;
}

async function timeRuns(run: () => Promise<unknown>, warmup: number, iters: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    await run();
    times.push((performance.now() - t0) / 1000);
  }
  return times;
}

/** A MatMul-only session: returns a function that runs it once and its FLOPs. */
async function matmulSession(backend: ReturnType<typeof createCpuBackend>, m: number, k: number, n: number) {
  const g = new Graph();
  g.output('c', ops.matmul(g.input('a', [m, k]), g.input('b', [k, n])));
  const exe = await backend.compile(g);
  const fill = (len: number) => Float32Array.from({ length: len }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const feeds = { a: { shape: [m, k], dtype: 'f32' as const, data: fill(m * k) }, b: { shape: [k, n], dtype: 'f32' as const, data: fill(k * n) } };
  return { label: `${m}x${k}x${n}`, flops: 2 * m * k * n, run: () => exe.run(feeds), dispose: () => exe.dispose() };
}

async function main(): Promise<void> {
  const threads = Number(process.env.THREADS ?? availableParallelism());
  const backend = createCpuBackend({ threads });
  const cfg = { blocks: 4, hidden: 512, heads: 8, intermediate: 1408, vocab: 4096, seq: 256, batch: 2, rank: 16, alpha: 32, sgdRate: 1e-3 };
  const m = buildLlamaLora(cfg);
  const signature = { outputs: ['loss'], updates: m.updates };
  const flops = graphFlops(m.graph, ['loss', ...Object.values(m.updates)]);
  const t0 = performance.now();
  const exe = await backend.compile(m.graph, signature);
  await exe.setParameters(Object.fromEntries(Object.entries(m.values(1)).map(([k, v]) => [k, host(v)])));
  const feeds = Object.fromEntries(Object.entries(m.feeds(2)).map(([k, v]) => [k, host(v)]));
  const first = await exe.run(feeds);
  const setupS = (performance.now() - t0) / 1000;
  const matmuls = [await matmulSession(backend, 512, 512, 1408), await matmulSession(backend, 512, 1408, 512), await matmulSession(backend, 1024, 1024, 1024)];
  for (const mm of matmuls) await timeRuns(mm.run, 5, 0);
  await timeRuns(() => exe.run(feeds), 2, 0);
  // Step and MatMul runs interleave, so both see the same machine load.
  const stepTimes: number[] = [];
  const mmTimes = matmuls.map(() => [] as number[]);
  for (let i = 0; i < 10; i++) {
    stepTimes.push(...(await timeRuns(() => exe.run(feeds), 0, 1)));
    for (const [j, mm] of matmuls.entries()) mmTimes[j].push(...(await timeRuns(mm.run, 0, 3)));
  }
  const last = await exe.run(feeds);
  const step = median(stepTimes);
  const modelRate = flops / step;
  const rates = matmuls.map((mm, j) => mm.flops / median(mmTimes[j]));
  const peak = Math.max(...rates);
  for (const mm of matmuls) mm.dispose();
  backend.dispose();

  const g = (x: number) => (x / 1e9).toFixed(1);
  const section = [
    `## ONNX Runtime CPU backend: LoRA training-step FLOP/s, ${threads} thread${threads === 1 ? '' : 's'} (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Command: \`${process.env.THREADS ? `THREADS=${threads} ` : ''}pnpm --filter @lowrank/backend-cpu bench\`. Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}, onnxruntime-node 1.30.0; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other jobs share these cores).`,
    '',
    `Graph: ${cfg.blocks} blocks, hidden ${cfg.hidden}, ${cfg.heads} heads, SwiGLU ${cfg.intermediate}, vocab ${cfg.vocab}, batch ${cfg.batch} x seq ${cfg.seq}, LoRA r=${cfg.rank} on q/k/v/o, forward + adapter backward + in-graph SGD, one ONNX session (${exe.report.onnxNodes} ONNX nodes).`,
    '',
    '| measure | value |',
    '|---|---|',
    `| model FLOPs per step (core opFlops) | ${g(flops)} GFLOP |`,
    `| step time (median of 10, after 3 warm-up) | ${(step * 1000).toFixed(1)} ms (min ${(Math.min(...stepTimes) * 1000).toFixed(1)}, max ${(Math.max(...stepTimes) * 1000).toFixed(1)}) |`,
    `| model FLOP/s | **${g(modelRate)} GFLOP/s** |`,
    `| fp32 MatMul-only sessions, interleaved with the steps (median): ${matmuls.map((mm) => mm.label).join(' / ')} | ${rates.map(g).join(' / ')} GFLOP/s |`,
    `| model FLOP/s as a share of the best MatMul rate | **${((100 * modelRate) / peak).toFixed(0)} %** |`,
    `| first step incl. lowering + session creation | ${setupS.toFixed(2)} s |`,
    `| loss at step 1 -> step 14 (SGD lr 1e-3) | ${first.loss.data[0].toFixed(4)} -> ${last.loss.data[0].toFixed(4)} |`,
    '',
  ].join('\n');
  console.log(section);
  if (process.argv.includes('--append')) appendFileSync(fileURLToPath(new URL('../RESULTS.md', import.meta.url)), `\n${section}`);
}

await main();
