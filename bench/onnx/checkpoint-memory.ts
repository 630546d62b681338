/**
 * Peak memory of a 16-block LoRA training step on the CPU backend, with and
 * without recomputation, each in a fresh child process (peak RSS = VmHWM).
 *
 *   pnpm --filter @lowrank/backend-cpu bench:memory             (prints a markdown section)
 *   pnpm --filter @lowrank/backend-cpu bench:memory -- --append (also appends it to bench/RESULTS.md)
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { rematerialize, type HostTensor, type NDArray } from '../../packages/core/src/index.ts';
import { createCpuBackend } from '../../packages/backend-cpu/src/index.ts';
import type { OrtExecutable } from '../../packages/onnx/src/index.ts';
import { buildLlamaLora } from '../../packages/backend-cpu/test/llama-lora-graph.ts';

const CFG = { blocks: Number(process.env.BLOCKS ?? 16), hidden: 256, heads: 4, intermediate: 704, vocab: 1024, seq: 512, batch: 2, rank: 8, alpha: 16, segments: true };
type Policy = 'none' | 'sqrt' | 'sqrt-ungated';

const host = (a: NDArray): HostTensor => ({ shape: a.shape, dtype: a.dtype, data: a.toHost() });
const vmRssMiB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const vmHwmMiB = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

interface ChildResult {
  policy: Policy;
  recomputedNodes: number;
  plannedMiB: number;
  onnxNodes: number;
  baselineMiB: number;
  peakMiB: number;
  maxRssMiB: number;
  stepMs: number;
  loss: number;
}

async function child(policy: Policy): Promise<ChildResult> {
  const m = buildLlamaLora(CFG);
  const plan = rematerialize(m.graph, policy === 'none' ? 'none' : 'sqrt', m.outputs);
  const recomputedNodes = plan.checkpoint.recomputedOps;
  const plannedMiB = plan.memory.plannedPeakBytes / 2 ** 20;
  const backend = createCpuBackend({ orderRecompute: policy !== 'sqrt-ungated' });
  const exe = await backend.compile(m.graph, { outputs: m.outputs });
  await exe.setParameters(Object.fromEntries(Object.entries(m.values(1)).map(([k, v]) => [k, host(v)])));
  const feeds = Object.fromEntries(Object.entries(m.feeds(2)).map(([k, v]) => [k, host(v)]));
  // Create the session (initializers copied into ORT) first, then reset the high-water mark: the peak is the step's own.
  await (exe as OrtExecutable).prepare();
  globalThis.gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
  const baselineMiB = vmRssMiB();
  let loss = 0;
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    loss = (await exe.run(feeds)).loss.data[0];
    times.push(performance.now() - t0);
  }
  return {
    policy,
    recomputedNodes,
    plannedMiB,
    onnxNodes: Number(exe.report.onnxNodes),
    baselineMiB,
    peakMiB: vmHwmMiB(),
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    stepMs: Math.min(...times.slice(1)),
    loss,
  };
}

const f = (x: number) => x.toFixed(0);

function parent(): void {
  const script = fileURLToPath(import.meta.url);
  const run = (policy: Policy): ChildResult => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--conditions=source', script, '--child', policy], { encoding: 'utf8', maxBuffer: 1 << 20 });
    return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
  };
  // RSS varies between processes (allocator and GC timing): each policy runs REPEATS times (default 3), interleaved; the median run is reported.
  const repeats = Number(process.env.REPEATS ?? 3);
  const policies: Policy[] = ['none', 'sqrt', 'sqrt-ungated'];
  const runs = new Map<Policy, ChildResult[]>(policies.map((p) => [p, []]));
  for (let k = 0; k < repeats; k++) for (const p of policies) runs.get(p)!.push(run(p));
  const step = (r: ChildResult) => r.peakMiB - r.baselineMiB;
  const results = policies.map((p) => [...runs.get(p)!].sort((a, b) => step(a) - step(b))[Math.floor(repeats / 2)]);
  const range = (p: Policy) => runs.get(p)!.map((r) => f(step(r))).join(', ');
  const [none, sqrt] = results;
  const section = [
    `## ONNX Runtime CPU backend: checkpointing memory (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Command: \`pnpm --filter @lowrank/backend-cpu bench:memory\`. Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}, onnxruntime-node 1.30.0 (arena on, memory pattern off, CSE disabled).`,
    '',
    `Model: ${CFG.blocks} LLaMA-shaped blocks (hidden ${CFG.hidden}, ${CFG.heads} heads, SwiGLU ${CFG.intermediate}), batch ${CFG.batch} x seq ${CFG.seq}, LoRA r=${CFG.rank} on q/k/v/o; forward + backward of every adapter in one session. ` +
      "Policies applied with core's `rematerialize(graph, policy)` (`sqrt`: runs of round(sqrt(16)) = 4 blocks recomputed before their backward). Planned peak: core's memory planner for the whole graph (parameters included).",
    '',
    '| policy | recomputed core nodes | planned peak | ONNX nodes | peak RSS during 3 steps (VmHWM, reset after session creation) | RSS after session creation | peak - before (median run) | all runs | step time (min of 2) | loss |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) => `| ${r.policy} | ${r.recomputedNodes} | ${f(r.plannedMiB)} MiB | ${r.onnxNodes} | ${f(r.peakMiB)} MiB | ${f(r.baselineMiB)} MiB | **${f(r.peakMiB - r.baselineMiB)} MiB** | ${range(r.policy)} MiB | ${f(r.stepMs)} ms | ${r.loss.toFixed(6)} |`,
    ),
    '',
    `Gates (packages/onnx/src/lower/recompute-order.ts) turn core's order-only constraints into data dependencies, so ORT cannot start a recomputed run, or a VJP's re-expanded forward (attention scores), before the backward pass reaches it; without constraints (\`none\`) the same rule follows core's schedule. \`sqrt-ungated\` lowers the \`sqrt\` graph without any gates: ORT's own topological order then runs recomputation early, step memory ${f(results[2].peakMiB - results[2].baselineMiB)} MiB instead of ${f(sqrt.peakMiB - sqrt.baselineMiB)} MiB.`,
    '',
    `sqrt / none, step memory (peak - before): **${((100 * (sqrt.peakMiB - sqrt.baselineMiB)) / (none.peakMiB - none.baselineMiB)).toFixed(0)} %**; whole-process peak: ${((100 * sqrt.peakMiB) / none.peakMiB).toFixed(0)} %; step time: ${((100 * sqrt.stepMs) / none.stepMs).toFixed(0)} % (only meaningful on an otherwise idle machine). The same policy's step memory varies between processes ("all runs"): ORT's execution order and allocator are not fully under our control.`,
    '',
  ].join('\n');
  console.log(section);
  if (process.argv.includes('--append')) appendFileSync(fileURLToPath(new URL('../RESULTS.md', import.meta.url)), `\n${section}`);
}

const i = process.argv.indexOf('--child');
if (i >= 0) console.log(JSON.stringify(await child(process.argv[i + 1] as Policy)));
else parent();
